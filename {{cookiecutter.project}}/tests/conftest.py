"""Shared fixtures: a real PostgreSQL (embedded unless WAREHOUSE_URL is set) and
settings that give each test its own schemas and state folder."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace

import pytest

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.warehouse import connect, migrate


@pytest.fixture(scope="session")
def warehouse_url(tmp_path_factory) -> str:
    if os.environ.get("WAREHOUSE_URL"):
        return os.environ["WAREHOUSE_URL"]
    import pgserver

    server = pgserver.get_server(tmp_path_factory.mktemp("pg") / "pgdata", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture
def settings(warehouse_url, tmp_path) -> Settings:
    """Migrated settings in fresh schemas: tests never see each other's rows."""
    suffix = uuid.uuid4().hex[:10]
    base = Settings.from_env({"STATE_DIR": str(tmp_path), "WAREHOUSE_URL": warehouse_url})
    current = replace(base, schema=f"t_{suffix}", source_schema=f"src_{suffix}", chunk_rows=1000)
    migrate(current)
    return current


@pytest.fixture
def sql(settings):
    """Run one statement in the project's schema and return all rows."""

    def run(query: str, params=()):
        conn = connect(settings)
        try:
            with conn, conn.cursor() as cur:
                cur.execute(query, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()

    return run
