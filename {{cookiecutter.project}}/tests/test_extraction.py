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

import pandas as pd
import psycopg2
import pytest

from {{ cookiecutter.project }} import extraction
from {{ cookiecutter.project }}.config import SOURCE_KIND
from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS, OUTCOMES
from {{ cookiecutter.project }}.demo_data import snapshots, with_defect
from {{ cookiecutter.project }}.extraction import ExtractError, conform, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source
from {{ cookiecutter.project }}.warehouse import WarehouseUnavailable, warehouse_url

DAY = dt.date(2025, 3, 3)
OTHER_DAY = dt.date(2025, 3, 4)
COLUMNS = list(CUSTOMER_SNAPSHOTS.columns)
ORDER = ", ".join(["logical_date", *COLUMNS])
postgres_source = pytest.mark.skipif(
    SOURCE_KIND != "postgres", reason=f"needs the postgres source adapter; this project reads {SOURCE_KIND}"
)


# --------------------------------------------------------------------------- helpers


def publish(settings, day: dt.date, frame: pd.DataFrame) -> None:
    open_source(settings).publish(CUSTOMER_SNAPSHOTS, Interval.day(day), frame)


def staged(sql, day: dt.date) -> list[tuple]:
    query = f"SELECT {ORDER} FROM staging_customer_snapshots WHERE logical_date = %s ORDER BY {ORDER}"  # noqa: S608
    return sql(query, (day,))


def batch(sql, day: dt.date):
    return sql(
        """SELECT row_count, source_columns, source, run_id, extracted_at FROM staging_batches
           WHERE dataset = %s AND logical_date = %s""",
        (CUSTOMER_SNAPSHOTS.name, day),
    )


def warehouse_state(sql) -> dict:
    """Everything extraction may write, for before/after comparisons."""
    return {
        "snapshots": sql(f"SELECT {ORDER} FROM staging_customer_snapshots ORDER BY {ORDER}"),  # noqa: S608
        "outcomes": sql("SELECT * FROM staging_outcomes ORDER BY 1, 2, 3, 4"),
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, logical_date"),
    }


def as_rows(day: dt.date, frame: pd.DataFrame) -> list[tuple]:
    """`frame` as staging rows, sorted like `staged()`."""
    rows = [
        (day, *(None if pd.isna(v) else v for v in rec))
        for rec in frame[COLUMNS].astype(object).itertuples(index=False, name=None)
    ]
    return sorted(rows, key=lambda r: tuple((v is None, v) for v in r))


@pytest.fixture
def good_day(settings, sql):
    """DAY staged from 120 clean rows, then republished upstream as 300 different rows.

    A failed re-extraction must leave the 120 rows; a partial one would show some of the 300.
    """
    publish(settings, DAY, snapshots(DAY, entities=120))
    publish(settings, OTHER_DAY, snapshots(OTHER_DAY, entities=50))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "good") == 120
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(OTHER_DAY), "good") == 50
    publish(settings, DAY, snapshots(DAY, entities=300, seed=8))
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
    frame = snapshots(DAY, entities=250)
    publish(settings, DAY, frame)
    publish(settings, OTHER_DAY, snapshots(OTHER_DAY, entities=40))
    settings = replace(settings, chunk_rows=64)  # several chunks, one transaction

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "run-1") == 250

    assert staged(sql, DAY) == as_rows(DAY, frame)
    assert staged(sql, OTHER_DAY) == []  # only the interval's rows
    row_count, source_columns, source, run_id, _ = batch(sql, DAY)[0]
    assert (row_count, run_id, source) == (250, "run-1", f"postgres:{settings.source_schema}")
    assert source_columns == [*COLUMNS, "snapshot_date"]


@postgres_source
def test_extracting_the_same_date_twice_leaves_identical_staging(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=200), "duplicates"))  # 215 rows
    publish(settings, OTHER_DAY, snapshots(OTHER_DAY, entities=30))
    extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(OTHER_DAY), "other")
    interval = Interval.day(DAY)

    assert extract(settings, CUSTOMER_SNAPSHOTS, interval, "first") == 215
    first = warehouse_state(sql)
    assert extract(settings, CUSTOMER_SNAPSHOTS, interval, "second") == 215
    second = warehouse_state(sql)

    counts = "SELECT logical_date, count(*) FROM staging_customer_snapshots GROUP BY 1 ORDER BY 1"
    assert sql(counts) == [(DAY, 215), (OTHER_DAY, 30)]
    assert second["snapshots"] == first["snapshots"]
    assert second["outcomes"] == first["outcomes"]
    assert sql("SELECT count(*) FROM staging_batches") == [(2,)]
    assert batch(sql, DAY)[0][:4] == (
        215,
        [*COLUMNS, "snapshot_date"],
        f"postgres:{settings.source_schema}",
        "second",
    )


@postgres_source
def test_empty_interval_stages_an_empty_batch_with_its_columns(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "empty"))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r") == 0
    assert staged(sql, DAY) == []
    assert batch(sql, DAY)[0][:2] == (0, [*COLUMNS, "snapshot_date"])


@postgres_source
def test_renamed_column_is_staged_as_null_and_the_drift_is_recorded(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=20), "renamed_column"))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r") == 20
    assert sql("SELECT count(*), count(monthly_spend) FROM staging_customer_snapshots") == [(20, 0)]
    source_columns = batch(sql, DAY)[0][1]
    assert "spend_monthly" in source_columns and "monthly_spend" not in source_columns


# --------------------------------------------------------------------------- conform (no database)


def test_conform_casts_to_the_staging_types():
    chunk = pd.DataFrame(
        {
            "entity_id": ["9007199254740993", "2", "3"],  # beyond float precision: kept exact
            "tenure_months": [decimal.Decimal("12"), 7.0, None],  # numeric / float / NULL
            "monthly_spend": ["10.5", decimal.Decimal("3.25"), "1e3"],
            "support_tickets": pd.array([0, 1, None], dtype="Int64"),
            "plan": ["basic", None, "pro"],
            "last_login_days": [1, 2, 3],
        },
        index=[10, 20, 30],  # a chunk from the middle of a stream
    )
    out = conform(chunk, CUSTOMER_SNAPSHOTS, DAY)

    assert list(out.columns) == ["logical_date", *COLUMNS]
    assert {c: str(t) for c, t in out.dtypes.items()} == {
        "logical_date": "object",
        "entity_id": "Int64",
        "tenure_months": "Int64",
        "monthly_spend": "Float64",
        "support_tickets": "Int64",
        "plan": "string",
        "last_login_days": "Int64",
    }
    assert out["logical_date"].tolist() == [DAY] * 3
    assert out["entity_id"].tolist() == [9007199254740993, 2, 3]
    assert out["tenure_months"].tolist() == [12, 7, pd.NA]
    assert out["monthly_spend"].tolist() == [10.5, 3.25, 1000.0]
    assert out["support_tickets"].tolist() == [0, 1, pd.NA]
    assert out["plan"].tolist() == ["basic", pd.NA, "pro"]


def test_conform_missing_columns_become_null_and_unknown_ones_are_dropped():
    chunk = pd.DataFrame({"entity_id": [1, 2], "spend_monthly": [1.0, 2.0], "x; DROP TABLE x": ["a", "b"]})
    out = conform(chunk, CUSTOMER_SNAPSHOTS, DAY)
    assert list(out.columns) == ["logical_date", *COLUMNS]
    assert out["entity_id"].tolist() == [1, 2]
    for column in COLUMNS[1:]:
        assert out[column].isna().all(), column


def test_conform_dates():
    chunk = pd.DataFrame(
        {
            "snapshot_date": ["2025-03-01", dt.date(2025, 3, 2), None],
            "entity_id": [1, 2, 3],
            "label": [1, 0, 1],
        }
    )
    out = conform(chunk, OUTCOMES, DAY)
    assert out["snapshot_date"].tolist()[:2] == [dt.date(2025, 3, 1), dt.date(2025, 3, 2)]
    assert pd.isna(out["snapshot_date"].tolist()[2])
    with pytest.raises(
        ExtractError, match=r"outcomes\.snapshot_date: 1 value\(s\) are not a date.*'yesterday'"
    ):
        conform(chunk.assign(snapshot_date=["2025-03-01", "yesterday", None]), OUTCOMES, DAY)


def test_conform_rejects_fractional_integers():
    chunk = snapshots(DAY, entities=5).astype({"tenure_months": "float64"})
    chunk.loc[[1, 3], "tenure_months"] = [1.5, 2.25]
    with pytest.raises(ExtractError) as info:
        conform(chunk, CUSTOMER_SNAPSHOTS, DAY)
    assert "customer_snapshots.tenure_months" in str(info.value)
    assert "expected an integer" in str(info.value)
    assert "1.5" in str(info.value) and "2.25" in str(info.value)


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("monthly_spend", ["abc", "12,50"]),
        ("entity_id", ["'; DROP TABLE x; --"]),
        ("support_tickets", ["N/A"]),
    ],
)
def test_conform_rejects_non_numeric_text_naming_column_and_samples(column, bad):
    chunk = snapshots(DAY, entities=10).astype({column: "object"})
    chunk.loc[: len(bad) - 1, column] = bad
    with pytest.raises(ExtractError) as info:
        conform(chunk, CUSTOMER_SNAPSHOTS, DAY)
    message = str(info.value)
    assert message.startswith(f"customer_snapshots.{column}: {len(bad)} value(s) are not a number")
    for value in bad:
        assert repr(value) in message


def test_conform_samples_are_bounded():
    chunk = snapshots(DAY, entities=50).astype({"monthly_spend": "object"})
    chunk["monthly_spend"] = ["x" * 10_000] * 50
    with pytest.raises(ExtractError) as info:
        conform(chunk, CUSTOMER_SNAPSHOTS, DAY)
    assert "50 value(s)" in str(info.value)
    assert len(str(info.value)) < 1_000  # 5 samples of at most 80 characters


# --------------------------------------------------------------------------- wrong types through the source


@postgres_source
def test_wrong_types_in_the_source_fail_and_stage_nothing(settings, sql):
    """A text column upstream: numbers in it are cast; 'abc' is an ExtractError and nothing changes."""
    text_spend = snapshots(DAY, entities=100).astype({"monthly_spend": "str"})
    publish(settings, DAY, text_spend)  # the source table's monthly_spend is text
    assert sql(
        "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
        "AND table_name = 'customer_snapshots' AND column_name = 'monthly_spend'",
        (settings.source_schema,),
    ) == [("text",)]
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "good") == 100
    before = warehouse_state(sql)

    bad = snapshots(DAY, entities=300, seed=8).astype({"monthly_spend": "str"})
    bad.loc[[250, 260], "monthly_spend"] = ["abc", "12.5 EUR"]  # in the 3rd chunk of 100
    publish(settings, DAY, bad)
    with pytest.raises(ExtractError) as info:
        extract(replace(settings, chunk_rows=100), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert "customer_snapshots.monthly_spend" in str(info.value)
    assert "'abc'" in str(info.value) and "'12.5 EUR'" in str(info.value)
    assert warehouse_state(sql) == before


@postgres_source
def test_integer_out_of_range_for_staging_is_an_extract_error(settings, sql, good_day):
    bad = snapshots(DAY, entities=300, seed=8)
    bad.loc[5, "tenure_months"] = 2**31  # fits the source's bigint, not staging's integer
    publish(settings, DAY, bad)
    with pytest.raises(ExtractError) as info:
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert "out of range for type integer" in str(info.value)
    assert f'column tenure_months: "{2**31}"' in str(info.value)  # PostgreSQL's own CONTEXT line
    assert warehouse_state(sql) == good_day


@postgres_source
def test_text_postgresql_cannot_store_is_an_extract_error(settings, sql, good_day, monkeypatch):
    """A NUL character (valid in a CSV file or an S3 object, never in PostgreSQL text)."""
    nul = FakeSource(snapshots(DAY, entities=300, seed=8).assign(plan="pro\x00enterprise"))
    monkeypatch.setattr(extraction, "open_source", lambda settings: nul)
    with pytest.raises(ExtractError, match="staging_customer_snapshots rejected the batch"):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == good_day


# --------------------------------------------------------------------------- failures mid-stream


@postgres_source
def test_source_failing_mid_stream_keeps_the_previous_partition(settings, sql, good_day, monkeypatch):
    flaky = FakeSource(
        snapshots(DAY, entities=300, seed=8).head(100),
        error=SourceError("upstream connection reset after 100 rows"),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: flaky)
    with pytest.raises(SourceError, match="after 100 rows"):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
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
            terminate_lock_holders(settings, settings.source_schema, "customer_snapshots", "AccessShareLock")
        ),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: source)

    with pytest.raises(SourceError) as info:
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert killed == [1]
    assert f"reading customer_snapshots from postgres:{settings.source_schema} failed" in str(info.value)
    assert warehouse_state(sql) == good_day


@postgres_source
def test_warehouse_connection_lost_mid_transaction(settings, sql, good_day, monkeypatch):
    """The extraction's own warehouse backend is terminated after it copied a chunk."""
    settings = replace(settings, chunk_rows=100)
    killed = []  # the extraction's session holds RowExclusiveLock on staging since its DELETE
    source = Interrupted(
        settings,
        at=1,
        hook=lambda: killed.append(
            terminate_lock_holders(
                settings, settings.schema, "staging_customer_snapshots", "RowExclusiveLock"
            )
        ),
    )
    monkeypatch.setattr(extraction, "open_source", lambda settings: source)

    with pytest.raises(WarehouseUnavailable, match="nothing committed"):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
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
        extract(unreachable, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
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
    for schema in (settings.schema, settings.source_schema):
        sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"; CREATE TABLE "{schema}".x AS SELECT 42 AS id')
    frame = snapshots(DAY, entities=len(HOSTILE))
    frame["plan"] = pd.array(HOSTILE, dtype="string")
    hostile_column = 'x"; DROP TABLE x; --'
    frame[hostile_column] = HOSTILE  # a hostile column name upstream, too
    publish(settings, DAY, frame)
    tables = (
        "SELECT table_schema, table_name FROM information_schema.tables "
        "WHERE table_schema IN (%s, %s) ORDER BY 1, 2"
    )
    tables_before = sql(tables, (settings.schema, settings.source_schema))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "'; DROP TABLE x; --") == len(HOSTILE)

    got = sql(
        "SELECT entity_id, plan, md5(plan), octet_length(plan) FROM staging_customer_snapshots "
        "ORDER BY entity_id"
    )
    expected = [
        (
            i,
            s,
            None if s is None else hashlib.md5(s.encode()).hexdigest(),
            None if s is None else len(s.encode()),
        )
        for i, s in enumerate(HOSTILE, start=1)
    ]
    assert got == expected
    assert sql("SELECT count(*) FROM staging_customer_snapshots WHERE plan = ''") == [(1,)]
    assert sql("SELECT count(*) FROM staging_customer_snapshots WHERE plan IS NULL") == [(1,)]
    assert staged(sql, DAY) == as_rows(DAY, frame)  # the other columns are untouched
    assert batch(sql, DAY)[0][1] == [*COLUMNS, hostile_column, "snapshot_date"]
    assert batch(sql, DAY)[0][3] == "'; DROP TABLE x; --"
    assert sql(tables, (settings.schema, settings.source_schema)) == tables_before
    for schema in (settings.schema, settings.source_schema):
        assert sql(f'SELECT id FROM "{schema}".x') == [(42,)]  # noqa: S608
