"""Run a command with the database URLs built from the RDS-managed master secret.

The systemd units start each Airflow component through this, so the password is
read from Secrets Manager at every start and never written to disk:

    python -m infra.db_env -- airflow scheduler

It reads DB_INSTANCE_ID, DB_NAME and AWS_REGION (from /etc/<project>/airflow.env),
looks up the instance's endpoint and secret (the host role may read only those),
adds AIRFLOW__DATABASE__SQL_ALCHEMY_CONN, AIRFLOW_CONN_WAREHOUSE and WAREHOUSE_URL
unless the environment already sets them, puts the venv's bin/ first on PATH and
replaces itself with the command (same PID, so systemd supervises Airflow itself).
Without DB_INSTANCE_ID it only runs the command.

RDS rotates the master password (every 7 days by default). Open connections keep
working, new ones need the new password, which a service reads when it (re)starts:
see "Password rotation" in the template's docs/operating-on-aws.md.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import quote


def database_urls(rds, secrets, instance_id: str, database: str) -> dict[str, str]:
    """The environment variables that point Airflow and the pipeline at the RDS database."""
    db = rds.describe_db_instances(DBInstanceIdentifier=instance_id)["DBInstances"][0]
    if "Endpoint" not in db:
        raise SystemExit(f"{instance_id} has no endpoint yet (status {db['DBInstanceStatus']})")
    secret = json.loads(
        secrets.get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])["SecretString"]
    )
    login = f"{quote(secret['username'], safe='')}:{quote(secret['password'], safe='')}"
    where = f"{db['Endpoint']['Address']}:{db['Endpoint']['Port']}/{database}?sslmode=require"
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"postgresql+psycopg2://{login}@{where}",
        "AIRFLOW_CONN_WAREHOUSE": f"postgresql://{login}@{where}",
        "WAREHOUSE_URL": f"postgresql://{login}@{where}",
    }


def command_env(environ: dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    if env.get("DB_INSTANCE_ID"):
        import boto3

        session = boto3.Session(region_name=env.get("AWS_REGION"))
        urls = database_urls(
            session.client("rds"),
            session.client("secretsmanager"),
            env["DB_INSTANCE_ID"],
            env.get("DB_NAME", "postgres"),
        )
        for key, value in urls.items():
            env.setdefault(key, value)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[1:] if args[:1] == ["--"] else args
    if not command:
        raise SystemExit("usage: python -m infra.db_env -- COMMAND [ARG ...]")
    env = command_env(dict(os.environ))
    os.execvpe(command[0], command, env)


if __name__ == "__main__":
    main()
