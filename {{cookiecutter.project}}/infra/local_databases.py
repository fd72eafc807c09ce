"""The embedded PostgreSQL laid out as production's, for `make prod-local`.

Three databases: `airflow` (Airflow's metadata), `warehouse` (the project schema analysts
query) and `source` (the demo's upstream system, read by the postgres source). One login per
job, holding only what that job needs:

    airflow    owns the `airflow` database; nothing in the others
    pipeline   the `<schema>_writer` role in `warehouse`, and SELECT on the demo source
    analyst    the `<schema>_analyst` role: reads the warehouse

Once laid out, every connection needs a password (scram-sha-256), as on RDS. The superuser
stands for RDS's master user: its password lives in this process only, and no Airflow
component or task is given it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg2
from psycopg2 import sql

DATABASES = ("airflow", "warehouse", "source")
_AUTHORIZED = re.compile(r"connection authorized: (.*)$")


@dataclass(frozen=True)
class Login:
    user: str
    password: str

    @classmethod
    def new(cls, user: str) -> Login:
        return cls(user, secrets.token_hex(16))


@dataclass(frozen=True)
class Databases:
    socket_dir: Path  # the embedded server listens on a Unix socket only: no TLS to set up
    schema: str  # the warehouse schema; its roles come from migration 0002
    master: Login
    airflow: Login
    pipeline: Login
    analyst: Login

    @classmethod
    def new(cls, socket_dir: Path, schema: str) -> Databases:
        return cls(
            socket_dir,
            schema,
            Login.new("postgres"),  # pgserver's superuser
            Login.new("airflow"),
            Login.new("pipeline"),
            Login.new("analyst"),
        )

    def url(self, login: Login, database: str, driver: str = "postgresql") -> str:
        auth = f"{quote(login.user, safe='')}:{quote(login.password, safe='')}"
        return f"{driver}://{auth}@/{database}?host={quote(str(self.socket_dir), safe='/')}"

    def metadata_urls(self) -> dict[str, str]:
        """Airflow's metadata URLs: psycopg2 for its sync engine, asyncpg for its async one.

        Airflow 3 derives the async URL from the sync one when it is not set, which breaks as soon
        as the URL carries driver options (asyncpg refuses `sslmode=`): both are spelled out.
        """
        return {
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.url(self.airflow, "airflow", "postgresql+psycopg2"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": self.url(
                self.airflow, "airflow", "postgresql+asyncpg"
            ),
        }

    def create(self) -> None:
        """The three databases, the master password and Airflow's login. Run first, while the
        embedded server still trusts local connections."""
        with _admin(self.url(self.master, "postgres")) as cur:
            cur.execute(sql.SQL("ALTER ROLE {} PASSWORD %s").format(sql.Identifier(self.master.user)),
                        (self.master.password,))  # fmt: skip
            _create_login(cur, self.airflow)
            for database in DATABASES:
                owner = self.airflow.user if database == "airflow" else self.master.user
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {}").format(
                        sql.Identifier(database), sql.Identifier(owner)
                    )
                )
                # CONNECT is granted to PUBLIC by default: only the logins named below may connect.
                cur.execute(
                    sql.SQL("REVOKE CONNECT ON DATABASE {} FROM PUBLIC").format(sql.Identifier(database))
                )

    def grant_logins(self, source_schema: str) -> None:
        """The pipeline's and the analyst's logins, once the warehouse migrations made their roles
        and the demo source holds its tables."""
        writer, analyst = (sql.Identifier(f"{self.schema}_{role}") for role in ("writer", "analyst"))
        with _admin(self.url(self.master, "postgres")) as cur:
            _create_login(cur, self.pipeline, member_of=writer)
            _create_login(cur, self.analyst, member_of=analyst)
            cur.execute(sql.SQL("GRANT CONNECT ON DATABASE warehouse TO {}, {}").format(writer, analyst))
            cur.execute(
                sql.SQL("GRANT CONNECT ON DATABASE source TO {}").format(sql.Identifier(self.pipeline.user))
            )
        with _admin(self.url(self.master, "source")) as cur:
            grantee, schema = sql.Identifier(self.pipeline.user), sql.Identifier(source_schema)
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(schema))
            cur.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, grantee))
            cur.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, grantee))

    def require_passwords(self, pgdata: Path) -> None:
        """From now on every login needs its password, the superuser included; and the server logs
        each login it lets in (see `connections`)."""
        (pgdata / "pg_hba.conf").write_text("local all all scram-sha-256\n")
        with _admin(self.url(self.master, "postgres")) as cur:
            cur.execute("ALTER SYSTEM SET log_connections = on")
            cur.execute("SELECT pg_reload_conf()")


def connections(log: Path, offset: int = 0) -> list[dict[str, str]]:
    """Each login the server let in, from byte `offset` of its log on: user, database, application_name."""
    with open(log, "rb") as lines:
        lines.seek(offset)
        found = [_AUTHORIZED.search(line.decode(errors="replace")) for line in lines]
    return [dict(pair.split("=", 1) for pair in match.group(1).split()) for match in found if match]


def _create_login(cur, login: Login, member_of: sql.Identifier | None = None) -> None:
    statement = sql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(sql.Identifier(login.user))
    if member_of is not None:
        statement += sql.SQL(" IN ROLE {}").format(member_of)
    cur.execute(statement, (login.password,))


@contextmanager
def _admin(url: str) -> Iterator:
    """An autocommit cursor (CREATE DATABASE runs outside a transaction) on a connection of its own."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.close()
