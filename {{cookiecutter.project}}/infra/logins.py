"""Create the database logins and migrate the warehouse, from the operator's machine.

The RDS master user's password never reaches the host: this reads it from Secrets
Manager with the operator's credentials and connects through an SSM port forward to
the database (see "Database logins" in docs/operating-on-aws.md):

    python -m infra.logins --env prod --local-port 15432 --ca-bundle global-bundle.pem

It creates (or sets the password of) one login per secret `<prefix>/login-<name>`:

- `<project>_airflow` owns the `airflow` database: Airflow's metadata, Celery's results;
- `<project>_pipeline` holds the `<schema>_writer` role: the tasks' login;
- `<project>_analyst` holds the `<schema>_analyst` role: read-only SQL;

then applies the warehouse migrations as the master user. Run it after the first apply
and again whenever a release brings a migration or a login secret changes. TLS is
verify-full: libpq checks the certificate against the RDS endpoint's name while it
connects to the local end of the tunnel (`hostaddr`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from urllib.parse import quote, urlencode

import boto3
import psycopg2
from psycopg2 import sql

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.warehouse import migrate

from .plan import LOGINS, PROJECT, Plan

GROUPS = {"pipeline": "writer", "analyst": "analyst"}  # login -> the migrations' role it holds


def create_logins(conn, schema: str, logins: dict[str, dict]) -> None:
    """Each login with its secret's password, its group role, and Airflow's own database."""
    conn.autocommit = True  # CREATE DATABASE runs outside a transaction
    with conn.cursor() as cur:
        for name, login in logins.items():
            role = sql.Identifier(login["username"])
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login["username"],))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(sql.SQL(verb + " ROLE {} LOGIN PASSWORD %s").format(role), (login["password"],))
            if name in GROUPS:
                group = f"{schema}_{GROUPS[name]}"
                cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,))
                if not cur.fetchone():  # the warehouse migrations grant it its privileges
                    cur.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
                cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), role))
        airflow = logins["airflow"]
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (airflow["dbname"],))
        if not cur.fetchone():
            # On RDS the master user is no superuser: it must hold a role to make it an owner.
            cur.execute(sql.SQL("GRANT {} TO CURRENT_USER").format(sql.Identifier(airflow["username"])))
            cur.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(airflow["dbname"]), sql.Identifier(airflow["username"])
                )
            )


def tunnel_url(secret: dict, endpoint: dict, database: str, local_port: int, ca_bundle: str) -> str:
    """The master user's URL through the tunnel, checking the certificate against the endpoint."""
    credentials = f"{quote(secret['username'], safe='')}:{quote(secret['password'], safe='')}"
    query = {"hostaddr": "127.0.0.1", "sslmode": "verify-full", "sslrootcert": ca_bundle}
    return f"postgresql://{credentials}@{endpoint['Address']}:{local_port}/{database}?{urlencode(query)}"


def main(argv: list[str] | None = None, session: boto3.Session | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.logins", description=__doc__.splitlines()[0])
    parser.add_argument("--env", required=True, help="environment name, as given to infra.aws")
    parser.add_argument("--local-port", type=int, required=True, help="local end of the SSM port forward")
    parser.add_argument("--ca-bundle", required=True, help="the RDS CA bundle (global-bundle.pem)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    session = session or boto3.Session(region_name=settings.aws_region)
    account = session.client("sts").get_caller_identity()["Account"]
    plan = Plan(PROJECT, args.env, settings.aws_region, account)
    db = session.client("rds").describe_db_instances(DBInstanceIdentifier=plan.db)["DBInstances"][0]
    secrets = session.client("secretsmanager")

    def secret(secret_id: str) -> dict:
        return json.loads(secrets.get_secret_value(SecretId=secret_id)["SecretString"])

    master = secret(db["MasterUserSecret"]["SecretArn"])
    url = tunnel_url(master, db["Endpoint"], plan.database, args.local_port, args.ca_bundle)
    with psycopg2.connect(url, connect_timeout=10) as conn:
        create_logins(conn, settings.schema, {name: secret(plan.secret(f"login-{name}")) for name in LOGINS})
    conn.close()
    migrate(replace(settings, warehouse_url=url))
    print(
        f"logins {', '.join(plan.login(name) for name in LOGINS)} ready; warehouse migrated", file=sys.stderr
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
