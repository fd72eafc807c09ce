"""What one environment is made of: names, tags and the host's settings, without AWS calls.

Every name derives from the project, the environment and (for buckets, whose names
are global) the account ID. A name longer than its resource allows is cut and ends in
a hash of the whole name, so two projects that share a long prefix never collide.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PROJECT = "{{ cookiecutter.project }}"
EXECUTOR = "{{ cookiecutter.executor }}"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
UBUNTU_AMI = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
HOST_CODE = f"/opt/{PROJECT}"  # releases/<time>/ and the `current` link (see deploy.sh)
HOST_HOME = f"/var/lib/{PROJECT}"  # the airflow user's home: AIRFLOW_HOME and STATE_DIR
HOST_CONFIG = f"/etc/{PROJECT}"
RELEASE_MANIFEST = "releases/current.json"
AIRFLOW_DATABASE = "airflow"  # Airflow's metadata (and Celery's results), apart from the warehouse
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
# The logins infra/logins.py creates; the host may read the secrets of the first two only.
HOST_LOGINS = ("airflow", "pipeline")
LOGINS = (*HOST_LOGINS, "analyst")
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")


class Refused(Exception):
    """A command that would be unsafe with the arguments given, or with what it found."""


def fit(name: str, limit: int, sep: str = "-") -> str:
    """`name`, or if longer than `limit`, its start and a hash of all of it: distinct stays distinct."""
    if len(name) <= limit:
        return name
    return f"{name[: limit - 9].rstrip(sep)}{sep}{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def slug(project: str) -> str:
    """`my_project` -> `my-project`: AWS names take hyphens, not underscores."""
    value = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")
    return value if value[:1].isalpha() else f"p{value}"


@dataclass(frozen=True)
class Plan:
    project: str
    env: str
    region: str
    account: str
    bucket_name: str | None = None  # --bucket; default: derived, with the account ID
    protect: bool = True
    executor: str = EXECUTOR
    instance_type: str = "t3.large"
    db_class: str = "db.t4g.micro"
    db_storage_gb: int = 20
    cache_node_type: str = "cache.t4g.micro"
    ami_id: str | None = None
    ami_parameter: str = UBUNTU_AMI
    vpc_id: str | None = None
    subnet_id: str | None = None
    db_subnet_group: str | None = None
    cache_subnet_group: str | None = None

    def __post_init__(self) -> None:
        if not _ENV_NAME.match(self.env):
            raise ValueError(
                f"--env {self.env!r}: up to 12 lowercase letters and digits, e.g. prod or staging"
            )

    @property
    def prefix(self) -> str:
        return f"{slug(self.project)}-{self.env}"

    @property
    def bucket(self) -> str:
        """Data bucket: artifacts/, incoming/, releases/. The account ID makes it ours by name too."""
        return self.bucket_name or fit(f"{self.prefix}-{self.account}-data", 63)

    @property
    def log_bucket(self) -> str:
        """S3 access logs of the data bucket and the logs of SSM sessions."""
        return fit(f"{self.prefix}-{self.account}-logs", 63)

    @property
    def host(self) -> str:
        """The host's role, instance profile, security group and instance."""
        return fit(f"{self.prefix}-airflow", 64)

    @property
    def db(self) -> str:
        """The RDS instance, its parameter group and its security group."""
        return fit(f"{self.prefix}-db", 63)

    @property
    def broker(self) -> str:
        """The ElastiCache replication group and its security group (executor = celery)."""
        return fit(f"{self.prefix}-broker", 40)

    @property
    def restarter(self) -> str:
        """The EventBridge rule that restarts Airflow when a secret it uses rotates, and its role."""
        return fit(f"{self.prefix}-restart-on-rotation", 64)

    @property
    def session_document(self) -> str:
        """The SSM session document that logs each session to the log bucket."""
        return fit(f"{self.prefix}-session", 128)

    def secret(self, name: str) -> str:
        """Secrets Manager name: `login-<login>`, `airflow-keys`, `broker-auth`."""
        return f"{self.prefix}/{name}"

    @property
    def celery(self) -> bool:
        return self.executor == "celery"

    @property
    def database(self) -> str:
        """The PostgreSQL database of the warehouse (in its schema)."""
        return re.sub(r"^[^a-z]+", "", self.project)[:63] or "warehouse"

    def login(self, name: str) -> str:
        """The PostgreSQL login `name` of this project: `<project>_<name>`."""
        return fit(f"{self.project}_{name}", 63, "_")

    def tags(self, name: str) -> list[dict[str, str]]:
        return [
            {"Key": "Name", "Value": name},
            {"Key": "Project", "Value": self.project},
            {"Key": "Env", "Value": self.env},
            {"Key": "ManagedBy", "Value": "infra/aws.py"},
        ]

    def owns(self, tags: dict[str, str]) -> bool:
        return tags.get("Project") == self.project and tags.get("Env") == self.env

    def airflow_env(self) -> dict[str, str]:
        """/etc/<project>/airflow.env on the host; see infra/airflow.env.example.

        No secrets: infra/db_env.py reads them from Secrets Manager when each service starts.
        """
        data = f"s3://{self.bucket}"
        env = {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "S3_BUCKET_OWNER": self.account,
            "DB_INSTANCE_ID": self.db,
            "DB_NAME": self.database,
            "AIRFLOW_DB_NAME": AIRFLOW_DATABASE,
            "DB_CA_BUNDLE": f"{HOST_CONFIG}/rds-ca.pem",
            "DB_SECRET_AIRFLOW": self.secret("login-airflow"),
            "DB_SECRET_PIPELINE": self.secret("login-pipeline"),
            "AIRFLOW_KEYS_SECRET": self.secret("airflow-keys"),
            "RELEASE_MANIFEST": f"{data}/{RELEASE_MANIFEST}",
            "ARTIFACTS_URI": f"{data}/artifacts",
            "SOURCE_S3_URI": f"{data}/incoming",
            "STATE_DIR": f"{HOST_HOME}/state",
            "AIRFLOW_HOME": f"{HOST_HOME}/airflow",
            "AIRFLOW__CORE__DAGS_FOLDER": f"{HOST_CODE}/current/dags",
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor" if self.celery else "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            # A DAG new on the host waits for an operator to unpause it: chosen here, not left to a default.
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
            "AIRFLOW__API__HOST": "127.0.0.1",  # reached through an SSM port forward only
        }
        if self.celery:
            env["BROKER_ID"] = self.broker
            env["BROKER_SECRET"] = self.secret("broker-auth")
        return env

    def user_data(self) -> str:
        """First boot: write the settings and the deploy script, then run it."""
        env = "".join(f"{key}={value}\n" for key, value in self.airflow_env().items())
        deploy = (PROJECT_ROOT / "infra" / "deploy.sh").read_text()
        script = f"/usr/local/sbin/{self.project}-deploy"
        return (
            "#!/bin/bash\n"
            f"# First boot of {self.host}, written by infra/aws.py.\n"
            "set -euo pipefail\n"
            f"install -d -m 0755 {HOST_CONFIG}\n"
            f"cat > {HOST_CONFIG}/airflow.env <<'AIRFLOW_ENV'\n{env}AIRFLOW_ENV\n"
            f"cat > {script} <<'DEPLOY_SH'\n{deploy.rstrip()}\nDEPLOY_SH\n"
            f"chmod 0755 {script}\n"
            f"{script}\n"
        )
