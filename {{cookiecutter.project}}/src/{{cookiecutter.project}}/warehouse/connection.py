"""Connections to the warehouse: the configured one, or an embedded PostgreSQL.

With no WAREHOUSE_URL and no Airflow connection `warehouse`, a real PostgreSQL 16
is started from pip (pgserver) with its data under the state folder, so the demo
and the tests need nothing installed by hand. Production points at RDS.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import psycopg2
from psycopg2.extensions import connection as Connection

from ..config import Settings

_embedded: dict[str, object] = {}  # pgdata path -> server handle, alive for the process


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached; nothing was written."""


def warehouse_url(settings: Settings) -> str:
    if settings.warehouse_url:
        return settings.warehouse_url
    pgdata = settings.state_dir / "pgdata"
    if str(pgdata) not in _embedded:
        with warnings.catch_warnings():  # platformdirs warns about an unset XDG_RUNTIME_DIR
            warnings.simplefilter("ignore")
            import pgserver  # heavy and only needed locally

        pgdata.parent.mkdir(parents=True, exist_ok=True)
        _embedded[str(pgdata)] = pgserver.get_server(pgdata, cleanup_mode="stop")
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
        raise WarehouseUnavailable(f"cannot connect to {_redact(url)}: {exc}".strip()) from exc


@contextmanager
def transaction(settings: Settings) -> Iterator[Connection]:
    """One transaction: committed if the block finishes, rolled back on any error.

    A connection lost mid-way surfaces as WarehouseUnavailable; PostgreSQL has
    then rolled the transaction back, so earlier data stays as it was.
    """
    conn = connect(settings)
    try:
        yield conn
        # Not `with conn`: on a lost connection its rollback raises InterfaceError. On
        # any error, close() below ends the transaction, which the server rolls back.
        conn.commit()
    except psycopg2.OperationalError as exc:
        raise WarehouseUnavailable(f"lost the warehouse connection, nothing committed: {exc}") from exc
    finally:
        conn.close()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or dict(p.split("=", 1) for p in parts.query.split("&") if "=" in p).get("host", "")
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"
