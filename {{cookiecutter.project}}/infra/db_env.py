"""Run a command with the connection settings built from Secrets Manager, then become it.

The systemd units start each Airflow component through this, and `<project>-run` runs
operator commands through it:

    python -m infra.db_env [--env-file /etc/<project>/airflow.env] -- airflow scheduler

It reads the settings (the environment, plus the env file parsed as KEY=value lines and
never run as shell), finds the RDS endpoint, reads the host's own secrets (its database
logins and Airflow's keys; the host role cannot read the master user's), adds

- AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (psycopg2) and ..._CONN_ASYNC (asyncpg): the
  `airflow` login on the `airflow` database, TLS verify-full against DB_CA_BUNDLE;
- AIRFLOW_CONN_WAREHOUSE and WAREHOUSE_URL: the `pipeline` login (the writer role);
- Airflow's fernet key, JWT secret and API secret key, the same on every component;
- with Celery, the broker URL (TLS and AUTH) and Celery's result backend (the metadata DB),

unless the environment sets them already, puts the venv's bin/ first on PATH and replaces
itself with the command (same PID, so systemd supervises Airflow itself). Without
DB_INSTANCE_ID it adds nothing.

Secrets are read when a service starts; when one rotates, an EventBridge rule restarts
the services (infra/compute.py), so new connections always use the current one.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from urllib.parse import quote, urlencode


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=value lines as systemd's EnvironmentFile reads them; nothing is evaluated."""
    values = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not key.replace("_", "").isalnum():
            raise SystemExit(f"{path}:{number}: expected KEY=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key] = value
    return values


def postgres_url(scheme: str, login: dict, endpoint: dict, database: str, tls: dict[str, str]) -> str:
    credentials = f"{quote(login['username'], safe='')}:{quote(login['password'], safe='')}"
    return f"{scheme}://{credentials}@{endpoint['Address']}:{endpoint['Port']}/{database}?{urlencode(tls)}"


def database_env(
    endpoint: dict, airflow: dict, pipeline: dict, warehouse: str, ca_bundle: str
) -> dict[str, str]:
    """URLs for psycopg2 (libpq's sslmode/sslrootcert) and asyncpg, which takes `ssl=<mode>` and
    reads the CA bundle from PGSSLROOTCERT: it refuses libpq's `sslmode=` keyword."""
    libpq = {"sslmode": "verify-full", "sslrootcert": ca_bundle}
    warehouse_url = postgres_url("postgresql", pipeline, endpoint, warehouse, libpq)
    metadata = postgres_url("postgresql+psycopg2", airflow, endpoint, airflow["dbname"], libpq)
    return {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": postgres_url(
            "postgresql+asyncpg", airflow, endpoint, airflow["dbname"], {"ssl": "verify-full"}
        ),
        "PGSSLROOTCERT": ca_bundle,
        "AIRFLOW_CONN_WAREHOUSE": warehouse_url,
        "WAREHOUSE_URL": warehouse_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{metadata}",
    }


def airflow_keys(keys: dict) -> dict[str, str]:
    return {
        "AIRFLOW__CORE__FERNET_KEY": keys["fernet_key"],
        "AIRFLOW__API_AUTH__JWT_SECRET": keys["jwt_secret"],
        "AIRFLOW__API__SECRET_KEY": keys["api_secret_key"],
    }


def broker_url(group: dict, auth: dict) -> str:
    """Celery's broker: Redis protocol over TLS with the AUTH token, the server's certificate verified."""
    primary = group["NodeGroups"][0]["PrimaryEndpoint"]
    token = quote(auth["auth_token"], safe="")
    return f"rediss://:{token}@{primary['Address']}:{primary['Port']}/0?ssl_cert_reqs=CERT_REQUIRED"


def secrets_env(session, env: dict[str, str]) -> dict[str, str]:
    """What the host's secrets add to `env`, which holds the settings of airflow.env."""
    db = session.client("rds").describe_db_instances(DBInstanceIdentifier=env["DB_INSTANCE_ID"])[
        "DBInstances"
    ][0]
    if "Endpoint" not in db:
        raise SystemExit(f"{env['DB_INSTANCE_ID']} has no endpoint yet (status {db['DBInstanceStatus']})")
    secrets = session.client("secretsmanager")

    def secret(name: str) -> dict:
        return json.loads(secrets.get_secret_value(SecretId=env[name])["SecretString"])

    added = database_env(
        db["Endpoint"],
        secret("DB_SECRET_AIRFLOW"),
        secret("DB_SECRET_PIPELINE"),
        env["DB_NAME"],
        env["DB_CA_BUNDLE"],
    )
    added.update(airflow_keys(secret("AIRFLOW_KEYS_SECRET")))
    if env.get("BROKER_ID"):
        group = session.client("elasticache").describe_replication_groups(ReplicationGroupId=env["BROKER_ID"])
        added["AIRFLOW__CELERY__BROKER_URL"] = broker_url(
            group["ReplicationGroups"][0], secret("BROKER_SECRET")
        )
    else:
        del added["AIRFLOW__CELERY__RESULT_BACKEND"]
    return added


def command_env(environ: dict[str, str], env_file: Path | None = None, session=None) -> dict[str, str]:
    env = {**(read_env_file(env_file) if env_file else {}), **environ}
    if env.get("DB_INSTANCE_ID"):
        import boto3

        session = session or boto3.Session(region_name=env.get("AWS_REGION"))
        for key, value in secrets_env(session, env).items():
            env.setdefault(key, value)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", os.defpath)])
    return env


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    env_file = None
    if args[:1] == ["--env-file"]:
        env_file, args = Path(args[1]), args[2:]
    command = args[1:] if args[:1] == ["--"] else args
    if not command:
        raise SystemExit("usage: python -m infra.db_env [--env-file FILE] -- COMMAND [ARG ...]")
    os.execvpe(command[0], command, command_env(dict(os.environ), env_file))


if __name__ == "__main__":
    main()
