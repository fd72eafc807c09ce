"""What runs on the host: db_env.py, logins.py (through the tunnel), run.sh, the units, the user data."""

from __future__ import annotations

import configparser
import importlib
import json
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg2
import pytest
from infra_moto import INFRA, PROJECT, infra_module, plan_for
from psycopg2 import sql
from psycopg2.extensions import parse_dsn
from sqlalchemy.engine import make_url

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
ENDPOINT = {"Address": "db.abc.eu-west-1.rds.amazonaws.com", "Port": 5432}
AIRFLOW = {"username": f"{PROJECT}_airflow", "password": "p@ss/w:rd!", "dbname": "airflow"}
PIPELINE = {"username": f"{PROJECT}_pipeline", "password": "an0ther@one", "dbname": PROJECT}

pytest_plugins = ["infra_moto"]  # the fake account and the checkout to release


@pytest.fixture
def ca_bundle(tmp_path) -> str:
    """Any PEM bundle will do for building the TLS context: the system's."""
    return ssl.get_default_verify_paths().cafile or pytest.skip("no system CA bundle")


def test_urls_verify_the_rds_certificate_with_psycopg2_and_asyncpg(ca_bundle, monkeypatch):
    env = infra_module("db_env").database_env(ENDPOINT, AIRFLOW, PIPELINE, PROJECT, ca_bundle)

    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "WAREHOUSE_URL"):
        dsn = parse_dsn(make_url(env[key]).set(drivername="postgresql").render_as_string(hide_password=False))
        assert (dsn["sslmode"], dsn["sslrootcert"], dsn["host"]) == (
            "verify-full",
            ca_bundle,
            ENDPOINT["Address"],
        )
    assert parse_dsn(env["WAREHOUSE_URL"])["user"] == PIPELINE["username"]
    assert parse_dsn(env["WAREHOUSE_URL"])["password"] == PIPELINE["password"]  # quoted in the URL

    # asyncpg: SQLAlchemy passes the URL's query as keywords, which asyncpg turns into an SSL
    # context; `sslmode=` would be a TypeError, the CA bundle comes from PGSSLROOTCERT.
    from asyncpg import connect_utils
    from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg

    url = make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"])
    assert url.drivername == "postgresql+asyncpg"
    _, kwargs = PGDialect_asyncpg().create_connect_args(url)
    monkeypatch.setenv("PGSSLROOTCERT", env["PGSSLROOTCERT"])
    params = connect_utils._parse_connect_dsn_and_args(
        dsn=None,
        host=kwargs["host"],
        port=kwargs["port"],
        user=kwargs["user"],
        password=kwargs["password"],
        passfile=None,
        database=kwargs["database"],
        ssl=kwargs["ssl"],
        service=None,
        servicefile=None,
        direct_tls=None,
        server_settings=None,
        target_session_attrs=None,
        krbsrvname=None,
        gsslib=None,
    )[1]
    assert params.ssl.check_hostname and params.ssl.verify_mode == ssl.CERT_REQUIRED
    assert params.password == AIRFLOW["password"]
    assert "sslmode" not in kwargs


def test_db_env_reads_the_hosts_secrets_never_the_master(account):
    p = plan_for("dbenv")
    infra = infra_module("aws")
    environment = infra.Environment(p, account, wait=False)
    parts = (environment.credentials, environment.network, environment.database, environment.broker)
    for step in [step for part in parts for step in part.steps()]:
        step.create()
    read = []
    account.events.register(
        "provide-client-params.secrets-manager.GetSecretValue",
        lambda params, **kw: read.append(params["SecretId"]),
    )
    env = infra_module("db_env").command_env({**p.airflow_env(), "PATH": "/usr/bin"}, session=account)
    account.events.unregister("provide-client-params.secrets-manager.GetSecretValue")

    assert sorted(read) == sorted(infra_module("identity").host_secrets(p))  # logins, keys, broker token
    keys = json.loads(
        account.client("secretsmanager").get_secret_value(SecretId=p.secret("airflow-keys"))["SecretString"]
    )
    assert env["AIRFLOW__CORE__FERNET_KEY"] == keys["fernet_key"]  # not only on the root volume
    assert parse_dsn(env["WAREHOUSE_URL"])["user"] == p.login("pipeline")
    assert make_url(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]).username == p.login("airflow")
    assert "dbadmin" not in json.dumps(env)
    if p.celery:  # TLS (rediss) with the AUTH token; Celery's results in the metadata database
        token = json.loads(
            account.client("secretsmanager").get_secret_value(SecretId=p.secret("broker-auth"))[
                "SecretString"
            ]
        )
        assert make_url(env["AIRFLOW__CELERY__BROKER_URL"]).password == token["auth_token"]
        assert (
            env["AIRFLOW__CELERY__BROKER_URL"].startswith("rediss://")
            and "ssl_cert_reqs=CERT_REQUIRED" in env["AIRFLOW__CELERY__BROKER_URL"]
        )
        assert env["AIRFLOW__CELERY__RESULT_BACKEND"] == "db+" + env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert env["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_env_file_is_parsed_never_run(tmp_path):
    marker = tmp_path / "ran"
    env_file = tmp_path / "airflow.env"
    env_file.write_text(f"# comment\nA=1\nB=$(touch {marker})\nC='quoted value'\n\nD=x=y\n")
    assert infra_module("db_env").read_env_file(env_file) == {
        "A": "1",
        "B": f"$(touch {marker})",
        "C": "quoted value",
        "D": "x=y",
    }
    assert not marker.exists()
    run_sh = (INFRA / "run.sh").read_text()
    assert "--env-file" in run_sh and '. "$0"' not in run_sh and "source" not in run_sh


def test_env_example_shows_what_the_host_gets():
    example = {}
    for line in (INFRA / "airflow.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    env = plan_for("prod").airflow_env()
    assert example.keys() == env.keys()
    if infra_module("plan").slug(PROJECT) == PROJECT.replace("_", "-"):  # spelled the simple way
        assert example == env
    assert not any(word in key for key in example for word in ("PASSWORD", "CONN"))
    # Production's auth manager (database users, no generated password) is installed.
    module, _, name = env["AIRFLOW__CORE__AUTH_MANAGER"].rpartition(".")
    assert name == "FabAuthManager" and hasattr(importlib.import_module(module), name)
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"


def test_systemd_units_start_each_airflow_3_component():
    for component in COMPONENTS:
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(INFRA / "systemd" / f"airflow-{component}.service")
        service = unit["Service"]
        assert service["User"] == "airflow" and service["EnvironmentFile"] == f"/etc/{PROJECT}/airflow.env"
        assert f" -m infra.db_env -- airflow {component}" in service["ExecStart"]


def test_host_scripts_are_valid_bash_and_user_data_fits(tmp_path):
    user_data = tmp_path / "user-data.sh"
    user_data.write_text(plan_for("prod").user_data())
    assert len(user_data.read_bytes()) < 16 * 1024  # EC2's limit
    for script in (user_data, INFRA / "deploy.sh", INFRA / "run.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_logins_hold_the_roles_and_airflow_owns_its_database(warehouse_url, settings):
    """infra/logins.py against a real PostgreSQL, as the master user would run it."""
    logins = infra_module("logins")
    tag = uuid.uuid4().hex[:8]
    values = {
        name: {"username": f"t{tag}_{name}", "password": f"pw-{name}", "dbname": f"t{tag}_airflow"}
        for name in ("airflow", "pipeline", "analyst")
    }
    conn = psycopg2.connect(warehouse_url)
    try:
        for _ in range(2):  # a second run sets the passwords again, and creates nothing twice
            logins.create_logins(conn, settings.schema, values)
        with conn.cursor() as cur:
            cur.execute(
                """SELECT m.rolname, g.rolname FROM pg_auth_members a
                   JOIN pg_roles m ON m.oid = a.member JOIN pg_roles g ON g.oid = a.roleid
                   WHERE m.rolname LIKE %s""",
                (f"t{tag}_%",),
            )
            held = set(cur.fetchall())
            cur.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (f"t{tag}_airflow",)
            )
            owner = cur.fetchone()[0]
            cur.execute(
                "SELECT rolcanlogin, rolsuper, rolcreaterole FROM pg_roles WHERE rolname = %s",
                (f"t{tag}_pipeline",),
            )
            pipeline = cur.fetchone()
    finally:
        with conn.cursor() as cur:
            cur.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(f"t{tag}_airflow")))
            for name in values:
                cur.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(f"t{tag}_{name}")))
        conn.close()
    assert (f"t{tag}_pipeline", f"{settings.schema}_writer") in held
    assert (f"t{tag}_analyst", f"{settings.schema}_analyst") in held
    assert owner == f"t{tag}_airflow" and pipeline == (True, False, False)


def test_tunnel_url_checks_the_endpoints_certificate_through_localhost(ca_bundle):
    url = infra_module("logins").tunnel_url(
        {"username": "dbadmin", "password": "a@b"}, ENDPOINT, PROJECT, 15432, ca_bundle
    )
    dsn = parse_dsn(url)
    assert (dsn["host"], dsn["hostaddr"], dsn["port"]) == (ENDPOINT["Address"], "127.0.0.1", "15432")
    assert (dsn["sslmode"], dsn["password"]) == ("verify-full", "a@b")
