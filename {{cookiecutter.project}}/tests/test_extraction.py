"""Extraction through the PostgreSQL source, and what bad input does to it.

Every failure case first stages a good partition, then republishes the day with
different rows so that any partial write would show, and proves with SQL taken
before and after that the failed extraction left the warehouse as it was.

The tests that publish to and read from the source need the PostgreSQL adapter and
are skipped when the project was generated with another `source_kind`; `conform`'s
tests run for every kind. Not covered here: a file that is not valid CSV belongs to
the s3 / files adapters and is tested with them (tests/test_source_<kind>.py).
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import socket
from dataclasses import replace

import numpy as np
import pandas as pd
import psycopg2
import pytest
from conftest import FEATURES, KEY, LABELS, as_text, column_of

from {{ cookiecutter.project }} import extraction
from {{ cookiecutter.project }}.config import SOURCE_KIND
from {{ cookiecutter.project }}.datasets import Column, Dataset
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.failures import PermanentFailure
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source
from {{ cookiecutter.project }}.staging import conform
from {{ cookiecutter.project }}.synthetic import EXTRA_COLUMN, features, with_defect
from {{ cookiecutter.project }}.warehouse import WarehouseUnavailable, warehouse_url

DAY = dt.date(2025, 3, 3)
OTHER_DAY = dt.date(2025, 3, 4)
COLUMNS = FEATURES.names
ORDER = ", ".join(f'"{c}"' for c in ["data_date", *COLUMNS])
TABLE = f'"{FEATURES.table}"'
postgres_source = pytest.mark.skipif(
    SOURCE_KIND != "postgres", reason=f"needs the postgres source adapter; this project reads {SOURCE_KIND}"
)
# Every column type the contract may use, for the casts, whatever this project's contract holds.
THINGS = Dataset(
    "things",
    [
        Column("id", "bigint"),
        Column("count", "integer"),
        Column("amount", "double precision"),
        Column("name", "text"),
        Column("flag", "boolean"),
        Column("day", "date"),
        Column("at", "timestamp with time zone"),
    ],
)


# --------------------------------------------------------------------------- helpers


def publish(settings, day: dt.date, frame: pd.DataFrame) -> None:
    open_source(settings).publish(FEATURES, Interval.day(day), frame)


def staged(sql, day: dt.date) -> list[tuple]:
    return sql(f"SELECT {ORDER} FROM {TABLE} WHERE data_date = %s ORDER BY {ORDER}", (day,))  # noqa: S608


def batch(sql, day: dt.date):
    return sql(
        """SELECT row_count, source_columns, source, run_id, extracted_at FROM staging_batches
           WHERE dataset = %s AND data_date = %s""",
        (FEATURES.name, day),
    )


def warehouse_state(sql) -> dict:
    """Everything extraction may write, for before/after comparisons."""
    return {
        "features": sql(f"SELECT {ORDER} FROM {TABLE} ORDER BY {ORDER}"),  # noqa: S608
        "labels": sql(f'SELECT * FROM "{LABELS.table}" ORDER BY 1, 2, 3, 4'),  # noqa: S608
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, data_date"),
    }


def as_rows(day: dt.date, frame: pd.DataFrame) -> list[tuple]:
    """`frame` as staging rows, sorted like `staged()`."""
    typed = conform(frame, FEATURES, day)
    for column in FEATURES.columns:  # as psycopg2 returns them
        if column.type == "date":
            typed[column.name] = typed[column.name].dt.date
    rows = [
        tuple(None if pd.isna(v) else v for v in rec) for rec in typed.astype(object).itertuples(index=False)
    ]
    return sorted(rows, key=lambda r: tuple((v is None, v) for v in r))


@pytest.fixture
def good_day(settings, sql):
    """DAY staged from 120 clean rows, then republished upstream as 300 different rows.

    A failed re-extraction must leave the 120 rows; a partial one would show some of the 300.
    """
    publish(settings, DAY, features(DAY, entities=120))
    publish(settings, OTHER_DAY, features(OTHER_DAY, entities=50))
    assert extract(settings, FEATURES, Interval.day(DAY), "good") == 120
    assert extract(settings, FEATURES, Interval.day(OTHER_DAY), "good") == 50
    publish(settings, DAY, features(DAY, entities=300, seed=8))
    before = warehouse_state(sql)
    assert len(staged(sql, DAY)) == 120 and batch(sql, DAY)[0][3] == "good"
    return before


class FakeSource:
    """Stands in for the source (never for PostgreSQL): yields `chunks`, then raises `error`."""

    description = "fake"

    def __init__(self, *chunks, error: Exception | None = None):
        self.chunks, self.error = chunks, error

    def read(self, dataset, interval):
        yield from self.chunks
        if self.error:
            raise self.error

    def commit(self, dataset, interval):
        raise AssertionError("commit() after a failure")


class Interrupted:
    """The real source, with a hook run before its chunk number `at` (0-based) is handed over."""

    def __init__(self, settings, at: int, hook):
        self.inner, self.at, self.hook = open_source(settings), at, hook
        self.description = self.inner.description
        self.chunks_yielded = 0

    def read(self, dataset, interval):
        for i, chunk in enumerate(self.inner.read(dataset, interval)):
            if i == self.at:
                self.hook()
            yield chunk
            self.chunks_yielded += 1

    def commit(self, dataset, interval):
        raise AssertionError("commit() must not be called after a failed extraction")


def terminate_lock_holders(settings, schema: str, table: str, mode: str) -> int:
    """pg_terminate_backend the sessions holding `mode` on schema.table, from a connection of our own."""
    conn = psycopg2.connect(warehouse_url(settings))
    try:
        with conn, conn.cursor() as cur:
            cur.execute(
                """SELECT pg_terminate_backend(pid, 5000) FROM (
                       SELECT DISTINCT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = %s AND c.relname = %s AND l.mode = %s AND l.pid <> pg_backend_pid()
                   ) holders""",
                (schema, table, mode),
            )
            return sum(1 for (ok,) in cur.fetchall() if ok)
    finally:
        conn.close()


# --------------------------------------------------------------------------- the happy path


@postgres_source
def test_extract_stages_exactly_the_source_rows(settings, sql):
    frame = features(DAY, entities=250)
    publish(settings, DAY, frame)
    publish(settings, OTHER_DAY, features(OTHER_DAY, entities=40))
    settings = replace(settings, chunk_rows=64)  # several chunks, one transaction

    assert extract(settings, FEATURES, Interval.day(DAY), "run-1") == 250

    assert staged(sql, DAY) == as_rows(DAY, frame)
    assert staged(sql, OTHER_DAY) == []  # only the interval's rows
    row_count, source_columns, source, run_id, _ = batch(sql, DAY)[0]
    assert (row_count, run_id, source) == (250, "run-1", f"postgres:{settings.source_schema}")
    assert source_columns == COLUMNS


@postgres_source
def test_extracting_the_same_date_twice_leaves_identical_staging(settings, sql):
    publish(settings, DAY, with_defect(features(DAY, entities=200), "duplicates"))  # 215 rows
    publish(settings, OTHER_DAY, features(OTHER_DAY, entities=30))
    extract(settings, FEATURES, Interval.day(OTHER_DAY), "other")
    interval = Interval.day(DAY)

    assert extract(settings, FEATURES, interval, "first") == 215
    first = warehouse_state(sql)
    assert extract(settings, FEATURES, interval, "second") == 215
    second = warehouse_state(sql)

    counts = f"SELECT data_date, count(*) FROM {TABLE} GROUP BY 1 ORDER BY 1"  # noqa: S608
    assert sql(counts) == [(DAY, 215), (OTHER_DAY, 30)]
    assert second["features"] == first["features"]
    assert second["labels"] == first["labels"]
    assert sql("SELECT count(*) FROM staging_batches") == [(2,)]
    assert batch(sql, DAY)[0][:4] == (215, COLUMNS, f"postgres:{settings.source_schema}", "second")


@postgres_source
def test_empty_interval_stages_an_empty_batch_with_its_columns(settings, sql):
    publish(settings, DAY, with_defect(features(DAY, entities=10), "empty"))
    assert extract(settings, FEATURES, Interval.day(DAY), "r") == 0
    assert staged(sql, DAY) == []
    assert batch(sql, DAY)[0][:2] == (0, COLUMNS)


@postgres_source
def test_renamed_column_is_staged_as_null_and_the_drift_is_recorded(settings, sql):
    column = column_of()
    publish(settings, DAY, with_defect(features(DAY, entities=20), "renamed_column", column))
    assert extract(settings, FEATURES, Interval.day(DAY), "r") == 20
    assert sql(f'SELECT count(*), count("{column}") FROM {TABLE}') == [(20, 0)]  # noqa: S608
    assert f"{column}_renamed" in batch(sql, DAY)[0][1]


@postgres_source
def test_a_column_only_another_day_carries_is_not_this_days_drift(settings, sql):
    """A table source keeps every column it ever gained; NULL all day, it says nothing of the day."""
    publish(settings, DAY, with_defect(features(DAY, entities=20), "extra_column"))
    publish(settings, OTHER_DAY, features(OTHER_DAY, entities=20))
    extract(settings, FEATURES, Interval.day(DAY), "r")
    extract(settings, FEATURES, Interval.day(OTHER_DAY), "r")
    assert EXTRA_COLUMN in batch(sql, DAY)[0][1]
    assert batch(sql, OTHER_DAY)[0][1] == COLUMNS


# --------------------------------------------------------------------------- conform (no database)


def test_conform_casts_every_type_to_its_staging_dtype():
    chunk = pd.DataFrame(
        {
            "id": ["9007199254740993", "2", None],  # beyond float precision: kept exact
            "count": [decimal.Decimal("12"), 7.0, None],  # numeric / float / NULL
            "amount": ["10.5", decimal.Decimal("3.25"), "1e3"],
            "name": ["basic", None, ""],
            "flag": ["true", "F", None],
            "day": ["2025-03-01", dt.date(2025, 3, 2), None],
            "at": ["2025-03-01 10:00:00+02:00", "2025-03-01T08:00:00Z", None],
        },
        index=[10, 20, 30],  # a chunk from the middle of a stream
    )
    out = conform(chunk, THINGS, DAY)

    assert list(out.columns) == ["data_date", *THINGS.names]
    assert {c: str(t) for c, t in out.dtypes.items()} == {"data_date": "object", **THINGS.dtypes}
    assert out["data_date"].tolist() == [DAY] * 3
    assert out["id"].tolist() == [9007199254740993, 2, pd.NA]
    assert out["count"].tolist() == [12, 7, pd.NA]
    assert out["amount"].tolist() == [10.5, 3.25, 1000.0]
    assert out["name"].tolist() == ["basic", pd.NA, ""]
    assert out["flag"].tolist() == [True, False, pd.NA]
    assert out["day"].tolist()[:2] == [pd.Timestamp("2025-03-01"), pd.Timestamp("2025-03-02")]
    assert out["at"].tolist()[:2] == [pd.Timestamp("2025-03-01 08:00", tz="UTC")] * 2


def test_conform_keeps_whole_number_floats_floats():
    out = conform(pd.DataFrame({"amount": [1.0, 2.0, 3.0]}), THINGS, DAY)
    assert str(out["amount"].dtype) == "Float64"


def test_conform_missing_columns_become_null_and_unknown_ones_are_dropped():
    chunk = pd.DataFrame({"id": [1, 2], "amount_renamed": [1.0, 2.0], "x; DROP TABLE x": ["a", "b"]})
    out = conform(chunk, THINGS, DAY)
    assert list(out.columns) == ["data_date", *THINGS.names]
    assert out["id"].tolist() == [1, 2]
    for column in THINGS.names[1:]:
        assert out[column].isna().all(), column


def test_conform_rejects_what_is_not_a_date():
    with pytest.raises(ExtractError, match=r"things\.day: 1 value\(s\) are not a date.*'yesterday'"):
        conform(pd.DataFrame({"day": ["2025-03-01", "yesterday", None]}), THINGS, DAY)


@pytest.mark.parametrize(
    ("column", "values", "what"),
    [
        ("count", [1.5, 2.25, 3.0], "a whole number"),
        ("count", ["1.5", "2.25", "3"], "a whole number"),
        ("count", [2**31, 1, 2], "within the range of integer"),
        ("count", [1e308, 1.0, 2.0], "within the range of integer"),
        ("id", ["9223372036854775808", "1", "2"], "within the range of bigint"),  # one above int64
        ("id", np.array([2**64 - 1, 1, 2], dtype="uint64"), "within the range of bigint"),
        ("id", ["1e400", "1", "2"], "a finite number"),
        ("amount", ["1e400", "1", "2"], "a finite number"),
        ("amount", [float("inf"), 1.0, 2.0], "a finite number"),
        ("flag", ["maybe", "true", "false"], "a boolean"),
    ],
    ids=[
        "fraction",
        "fraction-text",
        "above-int32",
        "1e308-in-integer",
        "above-int64",
        "uint64",
        "overflow-text-bigint",
        "overflow-text-float",
        "infinity",
        "not-a-boolean",
    ],
)
def test_conform_rejects_values_the_column_cannot_hold_naming_them(column, values, what):
    chunk = pd.DataFrame({column: values})
    with pytest.raises(ExtractError) as info:
        conform(chunk, THINGS, DAY)
    message = str(info.value)
    assert message.startswith(f"things.{column}: ") and what in message
    assert "value(s) are not" in message and str(pd.Series(values)[0])[:10] in message


@pytest.mark.parametrize(
    ("column", "bad"),
    [("amount", ["abc", "12,50"]), ("id", ["'; DROP TABLE x; --"]), ("count", ["N/A"])],
)
def test_conform_rejects_non_numeric_text_naming_column_and_samples(column, bad):
    chunk = pd.DataFrame({column: [*bad, "1", "2"]})
    with pytest.raises(ExtractError) as info:
        conform(chunk, THINGS, DAY)
    message = str(info.value)
    assert message.startswith(f"things.{column}: {len(bad)} value(s) are not a number")
    for value in bad:
        assert repr(value) in message


def test_conform_samples_are_bounded():
    chunk = pd.DataFrame({"amount": ["x" * 10_000] * 50})
    with pytest.raises(ExtractError) as info:
        conform(chunk, THINGS, DAY)
    assert "50 value(s)" in str(info.value)
    assert len(str(info.value)) < 1_000  # 5 samples of at most 80 characters


def test_a_value_that_cannot_be_stored_fails_the_task_without_retries():
    """ExtractError is permanent: retrying reads the same values."""
    assert issubclass(ExtractError, PermanentFailure)  # pipeline.py fails the task at once


# --------------------------------------------------------------------------- wrong types through the source


@postgres_source
def test_wrong_types_in_the_source_fail_and_stage_nothing(settings, sql):
    """A text column upstream: numbers in it are cast; 'abc' is an ExtractError and nothing changes."""
    column = column_of("Float64", "Int64")
    publish(settings, DAY, as_text(features(DAY, entities=100), column))  # the source table's column is text
    assert sql(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = %s AND column_name = %s",
        (settings.source_schema, FEATURES.name, column),
    ) == [("text",)]
    assert extract(settings, FEATURES, Interval.day(DAY), "good") == 100
    before = warehouse_state(sql)

    bad = as_text(features(DAY, entities=300, seed=8), column)
    bad.loc[[250, 260], column] = ["abc", "12.5 EUR"]  # in the 3rd chunk of 100
    publish(settings, DAY, bad)
    with pytest.raises(ExtractError) as info:
        extract(replace(settings, chunk_rows=100), FEATURES, Interval.day(DAY), "bad")
    assert f"{FEATURES.name}.{column}" in str(info.value)
    assert "'abc'" in str(info.value) and "'12.5 EUR'" in str(info.value)
    assert warehouse_state(sql) == before


@postgres_source
def test_integer_out_of_range_for_staging_is_an_extract_error(settings, sql, good_day):
    column = column_of("Int64")
    bad = features(DAY, entities=300, seed=8)
    bad[column] = bad[column].astype(object)
    bad.loc[5, column] = 2**63  # beyond bigint, the widest integer column
    text_source = replace(settings, source_schema=f"{settings.source_schema}_text")  # its column is text
    publish(text_source, DAY, as_text(bad, column))
    with pytest.raises(ExtractError) as info:
        extract(text_source, FEATURES, Interval.day(DAY), "bad")
    assert str(info.value).startswith(f"{FEATURES.name}.{column}: 1 value(s) are not within the range")
    assert str(2**63) in str(info.value)
    assert warehouse_state(sql) == good_day


@postgres_source
def test_text_postgresql_cannot_store_is_an_extract_error(settings, sql, good_day, monkeypatch):
    """A NUL character (valid in a CSV file or an S3 object, never in PostgreSQL text)."""
    nul = FakeSource(features(DAY, entities=300, seed=8).assign(**{column_of("string"): "pro\x00enterprise"}))
    monkeypatch.setattr(extraction, "open_source", lambda settings: nul)
    with pytest.raises(ExtractError, match=f"{FEATURES.table} rejected the batch"):
        extract(settings, FEATURES, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == good_day


# --------------------------------------------------------------------------- failures mid-stream


@postgres_source
def test_source_failing_mid_stream_keeps_the_previous_partition(settings, sql, good_day, monkeypatch):
    flaky = FakeSource(
        features(DAY, entities=300, seed=8).head(100),
        error=SourceError("upstream connection reset after 100 rows"),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: flaky)
    with pytest.raises(SourceError, match="after 100 rows"):
        extract(settings, FEATURES, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == good_day


@postgres_source
def test_source_connection_killed_mid_stream_is_a_source_error(settings, sql, good_day, monkeypatch):
    """The real source's own backend is terminated between two chunks."""
    settings = replace(settings, chunk_rows=100)
    killed = []  # the source session holds AccessShareLock on the table its cursor reads
    source = Interrupted(
        settings,
        at=1,
        hook=lambda: killed.append(
            terminate_lock_holders(settings, settings.source_schema, FEATURES.name, "AccessShareLock")
        ),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: source)

    with pytest.raises(SourceError) as info:
        extract(settings, FEATURES, Interval.day(DAY), "bad")
    assert killed == [1]
    assert f"reading {FEATURES.name} from postgres:{settings.source_schema} failed" in str(info.value)
    assert warehouse_state(sql) == good_day


@postgres_source
def test_warehouse_connection_lost_mid_transaction(settings, sql, good_day, monkeypatch):
    """The extraction's own warehouse backend is terminated after it copied a chunk."""
    settings = replace(settings, chunk_rows=100)
    killed = []  # the extraction's session holds AccessShareLock on staging since it began a partition
    source = Interrupted(
        settings,
        at=1,
        hook=lambda: killed.append(
            terminate_lock_holders(settings, settings.schema, FEATURES.table, "AccessShareLock")
        ),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: source)

    with pytest.raises(WarehouseUnavailable, match="nothing committed"):
        extract(settings, FEATURES, Interval.day(DAY), "bad")
    assert killed == [1]  # exactly the extraction's session, after its first chunk was copied
    assert source.chunks_yielded >= 1
    assert warehouse_state(sql) == good_day


@postgres_source
def test_unreachable_source_is_a_clear_source_error(settings, sql, good_day):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    unreachable = replace(settings, source_url=f"postgresql://pipeline:s3cret@127.0.0.1:{port}/upstream")

    with pytest.raises(SourceError) as info:
        extract(unreachable, FEATURES, Interval.day(DAY), "bad")
    message = str(info.value)
    assert message.startswith(f"source database unreachable (postgres:{settings.source_schema})")
    assert str(port) in message and "s3cret" not in message
    assert warehouse_state(sql) == good_day


# --------------------------------------------------------------------------- hostile strings

HOSTILE = [
    "'; DROP TABLE x; --",
    '"; DROP TABLE x; --',
    "Robert'); DROP TABLE staging_customer_snapshots;--",
    "x'); DELETE FROM staging_batches; --",
    "O'Brien",
    'say "hi"',
    "a;b;c",
    ",leading,comma,",
    "\\.",  # COPY's end-of-data marker
    "\\.\nafter the marker",
    "\\N",  # COPY's text-format NULL
    "NULL",
    "NA",
    "",  # empty string, not NULL
    "   ",
    "line1\nline2\r\nline3\rend",
    "tab\there",
    "back\\slash\\",
    "%s %(start)s {source_schema} $1 $$dollar$$",
    "Zürich – naïve café",
    "東京都 日本語",
    "مرحبا بالعالم",
    "🙂👍🏽🏳️‍🌈",
    "e\u0301 \u200b\u200d \ufeffbom",
    "<script>alert('x')</script>",
    "x" * 1_000_000,  # very long text
    "ünïcødé " * 20_000,
    None,
]


@postgres_source
def test_hostile_strings_round_trip_byte_exact_and_drop_nothing(settings, sql):
    column = column_of("string")
    for schema in (settings.schema, settings.source_schema):
        sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"; CREATE TABLE "{schema}".x AS SELECT 42 AS id')
    frame = features(DAY, entities=len(HOSTILE))
    frame[column] = pd.array(HOSTILE, dtype="string")
    hostile_column = 'x"; DROP TABLE x; --'
    frame[hostile_column] = HOSTILE  # a hostile column name upstream, too
    publish(settings, DAY, frame)
    tables = (  # and views; not the partitions, one per date extracted
        "SELECT relnamespace::regnamespace::text, relname FROM pg_class WHERE relkind IN ('r', 'p', 'v')"
        " AND NOT relispartition AND relnamespace::regnamespace::text IN (%s, %s) ORDER BY 1, 2"
    )
    tables_before = sql(tables, (settings.schema, settings.source_schema))

    assert extract(settings, FEATURES, Interval.day(DAY), "'; DROP TABLE x; --") == len(HOSTILE)

    got = sql(
        f'SELECT "{KEY}", "{column}", md5("{column}"), octet_length("{column}") FROM {TABLE} ORDER BY "{KEY}"'  # noqa: S608
    )
    expected = [
        (
            key,
            s,
            None if s is None else hashlib.md5(s.encode()).hexdigest(),
            None if s is None else len(s.encode()),
        )
        for key, s in sorted(zip(frame[KEY].tolist(), HOSTILE, strict=True))
    ]
    assert got == expected
    assert sql(f"SELECT count(*) FROM {TABLE} WHERE \"{column}\" = ''") == [(1,)]  # noqa: S608
    assert sql(f'SELECT count(*) FROM {TABLE} WHERE "{column}" IS NULL') == [(1,)]  # noqa: S608
    assert staged(sql, DAY) == as_rows(DAY, frame)  # the other columns are untouched
    assert batch(sql, DAY)[0][1] == [*COLUMNS, hostile_column]
    assert batch(sql, DAY)[0][3] == "'; DROP TABLE x; --"
    assert sql(tables, (settings.schema, settings.source_schema)) == tables_before
    for schema in (settings.schema, settings.source_schema):
        assert sql(f'SELECT id FROM "{schema}".x') == [(42,)]  # noqa: S608
