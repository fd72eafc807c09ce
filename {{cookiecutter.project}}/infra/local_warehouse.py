"""`make warehouse`, `make psql`, `make stop`: the embedded warehouse, for analysts.

`make warehouse` starts the embedded PostgreSQL if it is not running, and leaves it running
until `make stop`; applies the migrations; makes sure of the login `analyst`, which holds
the read-only role `<schema>_analyst` of the migrations (as `make prod-local` and
infra/logins.py give it in production) with the schema on its search path; and prints a
psql command and a connection URL for it. The server listens only on a Unix socket in its
data folder and, as pgserver sets it up, trusts this machine's users: the login limits what
an analyst can do, not who may connect.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql

from {{ cookiecutter.project }}.config import Settings, shown
from {{ cookiecutter.project }}.local_airflow import airflow_home, running_server
from {{ cookiecutter.project }}.warehouse import embedded, migrate

ANALYST = "analyst"
DATABASE = "postgres"  # pgserver's database, which holds the warehouse schema


def start(settings: Settings) -> str:
    """The embedded warehouse, running and migrated, with its analyst login; that login's URL."""
    if settings.warehouse_url:
        raise SystemExit(
            "WAREHOUSE_URL is set, so the warehouse is not the embedded one: ask its owner for an analyst login"
        )
    server = embedded.attach(pgdata(settings), keep_running=True)
    migrate(settings)
    analyst_login(server.get_uri(), settings.schema)
    socket_dir = str(server.get_postmaster_info().socket_dir)
    return f"postgresql://{ANALYST}@/{DATABASE}?host={quote(socket_dir, safe='/')}"


def analyst_login(admin_url: str, schema: str) -> None:
    """The login `analyst`: the schema's read-only role, the schema first on its search path."""
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (ANALYST,))
            if not cur.fetchone():
                cur.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(ANALYST)))
            login, schema_id = sql.Identifier(ANALYST), sql.Identifier(schema)
            cur.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(f"{schema}_analyst"), login))
            cur.execute(sql.SQL("ALTER ROLE {} SET search_path = {}").format(login, schema_id))
    finally:
        conn.close()


def stop(settings: Settings) -> str:
    server = running_server(airflow_home(settings))
    if server:
        raise SystemExit(f"`make airflow` (pid {server['pid']}) uses the warehouse: Ctrl-C there stops both")
    stopped = embedded.stop(pgdata(settings))
    return f"{'stopped' if stopped else 'not running:'} the embedded PostgreSQL on {shown(pgdata(settings))}"


def pgdata(settings: Settings) -> Path:
    return settings.state_dir / "pgdata"


def main(argv: list[str] | None = None) -> int:
    command = (sys.argv[1:] if argv is None else argv)[:1]
    settings = Settings.from_env()
    if command == ["stop"]:
        print(stop(settings))
        return 0
    url = start(settings)
    psql = shlex.join([str(embedded.psql_path()), url])
    if command == ["psql"]:
        os.execv(embedded.psql_path(), [str(embedded.psql_path()), url])
    print(
        f"The warehouse runs on {shown(pgdata(settings))} (until `make stop`). Read-only, as `{ANALYST}`:\n"
        f"  psql:  {psql}\n"
        f"  (or: make psql)\n"
        f"  URL:   {url}\n"
        f"  schema {settings.schema}; the tables and views: README.md, For analysts; examples: sql/analyst_queries.sql"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
