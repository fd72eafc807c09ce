"""What every source adapter must do, tested through the Source protocol alone.

The project's adapter (`source_kind`) publishes each batch as its upstream would
(`open_source(settings).publish`) and `extraction.extract` stages it: chunked reads,
reruns, an empty batch, a renamed column, bad values, hostile strings. Each failure
case compares the warehouse before and after with SQL: a failed extraction leaves it
exactly as it was. What only one kind of source does is tested in
tests/test_source_<kind>.py.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pandas as pd
import pytest
from conftest import DAY, DTYPES, EARLIER, publish, warehouse_state

from {{ cookiecutter.project }}.config import SOURCE_KIND
from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.demo_data import snapshots, with_defect
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import open_source

# Strings that break naive CSV or SQL handling; None is NULL, "" the empty string.
HOSTILE = ["it's", 'say "hi"', '"', "'", "a;b", "'; DROP TABLE x; --", "a,b,c", "x" * 10_000,
           "naïve café 日本語 🙂", "line1\nline2", "cr\r\nlf", "\ttab", "back\\slash", "\\N",
           "NA", "null", "", " padded ", None]  # fmt: skip


def as_read(frame: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """`frame`, published for `day`, as the adapter's `read` gives it back.

    Files and objects hold the columns written, typed by sources/formats.py. The
    postgres query (SELECT *) also returns the source table's day column, as text,
    and PostgreSQL's COPY gives floats as float64.
    """
    if SOURCE_KIND == "postgres":
        return frame.astype({**DTYPES, "monthly_spend": "float64"}).assign(snapshot_date=str(day))
    return frame.astype(DTYPES)


def test_reads_in_chunks_exactly_the_rows_published(settings):
    frame = snapshots(DAY, entities=50)
    frame.loc[[3, 40], "monthly_spend"] = None  # NULLs in some chunks, not in the others
    publish(settings, DAY, frame)
    publish(settings, EARLIER, snapshots(EARLIER, entities=5))  # outside the interval
    source = open_source(replace(settings, chunk_rows=7))
    expected = as_read(frame, DAY)

    chunks = list(source.read(CUSTOMER_SNAPSHOTS, Interval.day(DAY)))

    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    assert all(chunk.dtypes.equals(expected.dtypes) for chunk in chunks)
    got = pd.concat(chunks, ignore_index=True)
    if SOURCE_KIND == "postgres":  # a query without ORDER BY promises no order; a file has one
        got = got.sort_values("entity_id", ignore_index=True)
    pd.testing.assert_frame_equal(got, expected)


def test_extracting_a_day_twice_leaves_identical_staging(settings, sql):
    publish(settings, DAY, snapshots(DAY, entities=30))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 30
    first = warehouse_state(sql)["rows"]

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r2") == 30

    assert warehouse_state(sql)["rows"] == first and len(first) == 30
    assert sql("SELECT row_count, run_id FROM staging_batches") == [(30, "r2")]


def test_an_interval_with_no_rows_is_an_empty_batch(settings, sql):
    empty = with_defect(snapshots(DAY, entities=10), "empty")
    publish(settings, DAY, empty)
    expected = as_read(empty, DAY)

    [chunk] = open_source(settings).read(CUSTOMER_SNAPSHOTS, Interval.day(DAY))
    assert chunk.empty and chunk.dtypes.equals(expected.dtypes)  # the source's columns, typed

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 0

    assert sql("SELECT row_count, source_columns FROM staging_batches") == [(0, list(expected.columns))]
    assert sql("SELECT count(*) FROM staging_customer_snapshots") == [(0,)]


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
