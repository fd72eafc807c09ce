"""Secrets Manager: the database logins, Airflow's own keys and the broker's AUTH token.

apply generates each value once; nothing here is ever printed. The RDS master user's
secret is RDS's own (see database.py): only the operator's machine reads it.
"""

from __future__ import annotations

import base64
import json
import secrets

from .plan import AIRFLOW_DATABASE, LOGINS, Plan
from .steps import Step, get, tag_dict


def token() -> str:
    """Letters, digits, - and _: valid as a PostgreSQL password and an ElastiCache AUTH token."""
    return secrets.token_urlsafe(32)


def initial_values(plan: Plan) -> dict[str, dict[str, str]]:
    """Each secret's name (without the prefix) and first value."""
    values = {
        f"login-{login}": {
            "username": plan.login(login),
            "password": token(),
            "dbname": AIRFLOW_DATABASE if login == "airflow" else plan.database,
        }
        for login in LOGINS
    }
    values["airflow-keys"] = {
        "fernet_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "jwt_secret": token(),
        "api_secret_key": token(),
    }
    if plan.celery:
        values["broker-auth"] = {"auth_token": token()}
    return values


class Credentials:
    def __init__(self, plan: Plan, session):
        self.plan = plan
        self.secrets = session.client("secretsmanager")

    def steps(self) -> list[Step]:
        return [self._secret_step(name) for name in initial_values(self.plan)]

    def _secret_step(self, name: str) -> Step:
        secret = self.plan.secret(name)
        return Step(
            "secret",
            secret,
            lambda: self.find(secret),
            lambda: self.create(name),
            tags=lambda found: tag_dict(found.get("Tags")),
            delete=self.delete,
        )

    def find(self, secret: str) -> dict | None:
        found = get(self.secrets.describe_secret, SecretId=secret)
        return None if found is None or found.get("DeletedDate") else found

    def create(self, name: str) -> None:
        secret = self.plan.secret(name)
        self.secrets.create_secret(
            Name=secret,
            Description=f"{name} of {self.plan.prefix} (infra/credentials.py)",
            SecretString=json.dumps(initial_values(self.plan)[name]),
            Tags=self.plan.tags(secret),
        )

    def value(self, name: str) -> dict:
        return json.loads(self.secrets.get_secret_value(SecretId=self.plan.secret(name))["SecretString"])

    def delete(self, found: dict) -> str:
        # No recovery window: apply can create it again at once, and logins.py sets the
        # database's passwords from whatever the secrets hold.
        self.secrets.delete_secret(SecretId=found["ARN"], ForceDeleteWithoutRecovery=True)
        return "deleted"
