"""Connections to the warehouse: the configured one, or an embedded PostgreSQL.

With no WAREHOUSE_URL and no Airflow connection `warehouse`, a real PostgreSQL 16
is started from pip (pgserver) with its data under the state folder, so the demo
and the tests need nothing installed by hand. Production points at RDS.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg2
from psycopg2.extensions import connection as Connection

from ..config import Settings, redact
from .embedded import attach

_embedded: dict[str, object] = {}  # pgdata path -> server handle, alive for the process


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached; nothing was written."""


def warehouse_url(settings: Settings) -> str:
    if settings.warehouse_url:
        return settings.warehouse_url
    pgdata = settings.state_dir / "pgdata"
    if str(pgdata) not in _embedded:
        _embedded[str(pgdata)] = attach(pgdata)
    return _embedded[str(pgdata)].get_uri()


def connect(settings: Settings) -> Connection:
    """A connection whose unqualified table names resolve in the project's schema, in UTC."""
    url = warehouse_url(settings)
    try:
        return psycopg2.connect(
            url,
            connect_timeout=10,
            application_name="{{ cookiecutter.project }}",
            options=f"-c TimeZone=UTC -c search_path={settings.schema}",  # schema: a checked identifier
        )
    except psycopg2.OperationalError as exc:
        raise WarehouseUnavailable(f"cannot connect to {redact(url)}: {exc}".strip()) from exc
    except psycopg2.ProgrammingError:  # malformed: libpq's message would quote pieces of it
        raise WarehouseUnavailable(
            "invalid warehouse connection string (not shown: it may hold a password)"
        ) from None


@contextmanager
def transaction(settings: Settings, read_only: bool = False) -> Iterator[Connection]:
    """One transaction: committed if the block finishes, rolled back on any error.

    A connection lost mid-way surfaces as WarehouseUnavailable; PostgreSQL has
    then rolled the transaction back, so earlier data stays as it was. With
    `read_only`, PostgreSQL itself refuses any write in it.
    """
    conn = connect(settings)
    conn.set_session(readonly=read_only)
    try:
        yield conn
        # Not `with conn`: on a lost connection its rollback raises InterfaceError. On
        # any error, close() below ends the transaction, which the server rolls back.
        conn.commit()
    except psycopg2.OperationalError as exc:
        raise WarehouseUnavailable(f"lost the warehouse connection, nothing committed: {exc}") from exc
    finally:
        conn.close()


def fetch_all(settings: Settings, query, params=()) -> list[tuple]:
    """Run one statement in its own transaction; its rows, or [] if it returns none."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []
