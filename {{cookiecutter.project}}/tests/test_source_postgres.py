"""The PostgreSQL source: chunked reads, reruns, bad input, an unreachable source, bound parameters.

Each failure case compares the warehouse before and after with SQL: a failed
extraction leaves it exactly as it was. The source is a schema of the test's own
in the test PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import socket
from dataclasses import replace

import pandas as pd
import pytest

from {{ cookiecutter.project }}.config import ConfigError
from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.demo_data import snapshots, with_defect
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source

EARLIER, DAY = dt.date(2025, 3, 3), dt.date(2025, 3, 4)
COLUMNS = list(CUSTOMER_SNAPSHOTS.columns)
# Strings that break naive CSV or SQL handling; None is NULL, "" the empty string.
HOSTILE = ["it's", 'say "hi"', '"', "'", "a;b", "'; DROP TABLE x; --", "a,b,c", "x" * 10_000,
           "naïve café 日本語 🙂", "line1\nline2", "cr\r\nlf", "\ttab", "back\\slash", "\\N",
           "NA", "null", "", " padded ", None]  # fmt: skip


def publish(settings, day: dt.date, frame: pd.DataFrame) -> None:
    open_source(settings).publish(CUSTOMER_SNAPSHOTS, Interval.day(day), frame)


def warehouse_state(sql) -> dict:
    """Everything an extraction writes, for before / after comparisons."""
    return {
        "rows": sql("SELECT * FROM staging_customer_snapshots ORDER BY logical_date, entity_id"),
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, logical_date"),
    }


@pytest.fixture
def staged_days(settings, sql) -> dict:
    """EARLIER and DAY extracted from a source table whose tenure_months is text; the warehouse state."""
    for day in (EARLIER, DAY):
        publish(settings, day, snapshots(day, entities=20).astype({"tenure_months": "str"}))
        assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(day), "good") == 20
    return warehouse_state(sql)


def test_reads_in_chunks_exactly_the_rows_published(settings):
    frame = snapshots(DAY, entities=50)
    frame.loc[[3, 40], "monthly_spend"] = None
    publish(settings, DAY, frame)
    publish(settings, EARLIER, snapshots(EARLIER, entities=5))  # outside the interval
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(CUSTOMER_SNAPSHOTS, Interval.day(DAY)))

    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    got = pd.concat(chunks, ignore_index=True).sort_values("entity_id", ignore_index=True)
    pd.testing.assert_frame_equal(got[COLUMNS], frame, check_dtype=False)
    assert set(got["snapshot_date"].astype(str)) == {str(DAY)}


def test_extracting_a_day_twice_leaves_identical_staging(settings, sql):
    publish(settings, DAY, snapshots(DAY, entities=30))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 30
    first = warehouse_state(sql)["rows"]

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r2") == 30

    assert warehouse_state(sql)["rows"] == first and len(first) == 30
    assert sql("SELECT row_count, run_id FROM staging_batches") == [(30, "r2")]


def test_an_interval_with_no_rows_is_an_empty_batch(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "empty"))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 0

    assert sql("SELECT row_count, source_columns FROM staging_batches") == [(0, [*COLUMNS, "snapshot_date"])]


def test_renamed_column_reaches_staging_as_drift(settings, sql):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "renamed_column"))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 10

    [(columns,)] = sql("SELECT source_columns FROM staging_batches")
    assert "monthly_spend" not in columns and "spend_monthly" in columns
    assert sql("SELECT count(*) FROM staging_customer_snapshots WHERE monthly_spend IS NULL") == [(10,)]


def test_text_in_a_numeric_column_fails_with_no_partial_write(settings, sql, staged_days):
    frame = snapshots(DAY, entities=30).astype({"tenure_months": "str"})
    frame.loc[29, "tenure_months"] = "twelve"  # in the last chunk: earlier chunks were copied
    publish(settings, DAY, frame)

    with pytest.raises(ExtractError, match=r"tenure_months: 1 value\(s\) are not a number.*twelve"):
        extract(replace(settings, chunk_rows=7), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days


def test_hostile_strings_round_trip_byte_exact(settings, sql):
    sql("CREATE TABLE x (id int)")
    frame = snapshots(DAY, entities=len(HOSTILE))
    frame["plan"] = pd.array(HOSTILE, dtype="string")
    publish(settings, DAY, frame)

    assert extract(replace(settings, chunk_rows=5), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == len(
        HOSTILE
    )

    assert [
        row[0] for row in sql("SELECT plan FROM staging_customer_snapshots ORDER BY entity_id")
    ] == HOSTILE
    assert sql("SELECT count(*) FROM x") == [(0,)]


def test_unreachable_source_is_a_source_error_and_writes_nothing(settings, sql, staged_days):
    with socket.socket() as probe:  # a local port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    unreachable = replace(settings, source_url=f"postgresql://pipeline@127.0.0.1:{port}/upstream")

    with pytest.raises(SourceError, match="source database unreachable"):
        extract(unreachable, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days


def test_hostile_parameters_are_bound_not_spliced(settings, sql, staged_days):
    sql("CREATE TABLE x (id int)")
    # An interval whose bounds are SQL text, past Interval's own checks: bound as a
    # parameter it is just a malformed date; spliced into the query it would drop x.
    hostile = object.__new__(Interval)
    object.__setattr__(hostile, "start", f"2025-03-04'::date; DROP TABLE {settings.schema}.x; --")
    object.__setattr__(hostile, "end", "2025-03-05")

    with pytest.raises(SourceError, match="invalid input syntax for type date"):
        list(open_source(settings).read(CUSTOMER_SNAPSHOTS, hostile))

    assert sql("SELECT count(*) FROM x") == [(0,)]
    assert warehouse_state(sql) == staged_days
    with pytest.raises(ConfigError, match="lowercase SQL identifier"):  # and the schema is an identifier
        replace(settings, source_schema="src; DROP TABLE x")
