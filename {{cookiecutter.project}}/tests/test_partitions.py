"""Partitions by date (migration 0005): existing rows move into one partition per date and back,
and the pipeline's writer role replaces partitions through the migration's functions alone."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import date, timedelta

import psycopg2
import pytest
from alembic import command
from alembic.script import ScriptDirectory
from conftest import FEATURES, capped, champion, seed
from psycopg2 import errors
from psycopg2 import sql as pgsql
from psycopg2.extensions import make_dsn

from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.scoring import predict
from {{ cookiecutter.project }}.validation import validate
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate, transaction
from {{ cookiecutter.project }}.warehouse.migrate import alembic_config

DAYS = [date(2025, 3, 3), date(2025, 3, 4)]
ENTITIES = capped(50)
PARTITIONS = """SELECT p.relname, c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                JOIN pg_class p ON p.oid = i.inhparent
                WHERE p.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' ORDER BY 1, 2"""
FOREIGN_KEYS = "SELECT conname FROM pg_constraint WHERE conrelid = 'predictions'::regclass AND contype = 'f'"


def contents(settings, tables: list[str]) -> dict:
    every = {t: fetch_all(settings, f'SELECT * FROM "{t}" ORDER BY 1, 2, 3') for t in tables}  # noqa: S608
    return {**every, "latest": fetch_all(settings, "SELECT * FROM latest_predictions ORDER BY 1")}


def test_migration_0005_moves_rows_into_one_partition_per_date_and_back(settings):
    """From the revision before it, whatever staging tables the contract had then: rows in every
    table for two dates, and predictions naming their model version by foreign key."""
    old = replace(settings, schema=f"{settings.schema}_old")
    with alembic_config(old) as cfg:
        before = ScriptDirectory.from_config(cfg).get_revision("0005").down_revision
    migrate(old, before)
    tables = ["predictions", *staging_tables(old)]
    # A version row as the revision before 0005 holds it: the registry writes columns added since.
    version = "before-0005"
    fetch_all(
        old,
        """INSERT INTO model_versions (version, model_kind, code_version, train_start, train_end, train_rows,
                                       metrics, artifact_uri, sha256, status, run_id)
           VALUES (%s, 'any', 'test', %s, %s, 0, '{}', 'none', repeat('0', 64), 'champion', 'test')""",
        (version, DAYS[0], DAYS[0]),
    )
    for day in DAYS:
        for table in tables[1:]:  # staging columns are nullable: the date is enough to move
            fetch_all(old, f'INSERT INTO "{table}" (data_date) SELECT %s FROM generate_series(1, 3)', (day,))  # noqa: S608
        fetch_all(
            old,
            "INSERT INTO predictions SELECT %s, g, g / 10.0, %s, now(), 'before' FROM generate_series(1, 3) g",
            (day, version),
        )
    rows = contents(old, tables)
    assert fetch_all(old, FOREIGN_KEYS) != []

    migrate(old, "0005")

    assert contents(old, tables) == rows
    assert fetch_all(old, PARTITIONS) == sorted((t, f"{t}_{day:%Y%m%d}") for t in tables for day in DAYS)
    assert fetch_all(old, FOREIGN_KEYS) == []
    with alembic_config(old) as cfg:
        command.downgrade(cfg, before)
    assert contents(old, tables) == rows
    assert fetch_all(old, PARTITIONS) == [] and fetch_all(old, FOREIGN_KEYS) != []


def staging_tables(settings) -> list[str]:
    query = r"""SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace
                AND relkind IN ('r', 'p') AND NOT relispartition AND relname LIKE 'staging\_%%'
                AND relname <> 'staging_batches' ORDER BY 1"""
    return [name for (name,) in fetch_all(settings, query)]


@pytest.fixture
def writer(settings):
    """Settings that connect as a new login holding only the pipeline's writer role."""
    user, password = f"{settings.schema}_writer_login", secrets.token_hex(8)
    fetch_all(
        settings,
        pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD %s IN ROLE {}").format(
            pgsql.Identifier(user), pgsql.Identifier(f"{settings.schema}_writer")
        ),
        (password,),
    )
    login = make_dsn(settings.warehouse_url, user=user, password=password)
    # The source stays readable as before: a postgres source defaults to the warehouse's URL.
    yield replace(settings, warehouse_url=login, source_url=settings.source_url or settings.warehouse_url)
    fetch_all(settings, pgsql.SQL("DROP ROLE {}").format(pgsql.Identifier(user)))


def test_the_writer_role_replaces_partitions_without_ddl_rights(settings, writer, sql):
    seed(settings, DAYS, ENTITIES)
    champion(settings, DAYS[0])
    for day in DAYS:
        assert extract(writer, FEATURES, Interval.day(day), "w") == ENTITIES
        assert validate(writer, Interval.day(day), "w").success
        assert predict(writer, Interval.day(day), "w") == ENTITIES
    assert extract(writer, FEATURES, Interval.day(DAYS[0]), "again") == ENTITIES  # a swap replaces
    assert sql("SELECT count(*) FROM predictions") == [(ENTITIES * len(DAYS),)]

    for statement, error in [
        ("CREATE TABLE mine (x int)", errors.InsufficientPrivilege),
        ("DROP TABLE predictions", errors.InsufficientPrivilege),
        ("SELECT begin_partition('model_versions', '2025-03-03')", errors.RaiseException),
        (
            "SELECT publish_partition('predictions', '2025-03-03', ARRAY['model_versions'])",
            errors.RaiseException,
        ),
        ("SELECT drop_partition('staging_batches', '2025-03-03')", errors.RaiseException),
    ]:
        with pytest.raises(error):
            fetch_all(writer, statement)
    assert sql("SELECT count(*) FROM model_versions") == [(1,)]
    assert sql("SELECT count(*) FROM predictions") == [(ENTITIES * len(DAYS),)]


def test_a_staged_table_is_replaced_only_within_its_date(settings, sql):
    """A date's partition is swapped whole; the other date's partition is untouched."""
    rows_of = f'SELECT * FROM "{FEATURES.table}" WHERE data_date = %s ORDER BY 2'  # noqa: S608
    seed(settings, DAYS, ENTITIES)
    for day in DAYS:
        extract(settings, FEATURES, Interval.day(day), "first")
    other = sql(rows_of, (DAYS[1],))
    seed(settings, [DAYS[0]], ENTITIES - 10)
    assert extract(settings, FEATURES, Interval.day(DAYS[0]), "second") == ENTITIES - 10
    assert sql(rows_of, (DAYS[1],)) == other
    assert len(sql(rows_of, (DAYS[0],))) == ENTITIES - 10
    with pytest.raises(psycopg2.errors.CheckViolation):  # a staged table holds its own date only
        with transaction(settings) as conn, conn.cursor() as cur:
            cur.execute("SELECT begin_partition(%s, %s)", (FEATURES.table, DAYS[0] + timedelta(days=9)))
            staged = pgsql.Identifier(cur.fetchone()[0])
            cur.execute(pgsql.SQL("INSERT INTO {} (data_date) VALUES (%s)").format(staged), (DAYS[0],))
