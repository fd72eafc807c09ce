"""What every source adapter must do, tested through the Source protocol alone.

The project's adapter (`source_kind`) publishes each batch as its upstream would
(`open_source(settings).publish`) and `extraction.extract` stages it: chunked reads,
reruns, an empty batch, a renamed column, bad values, hostile strings. Each failure
case compares the warehouse before and after with SQL: a failed extraction leaves it
exactly as it was. What only one kind of source does is tested in
tests/test_source_<kind>.py.
"""

from __future__ import annotations

import re
from dataclasses import replace

import pandas as pd
import pytest
from conftest import DAY, EARLIER, FEATURES, KEY, as_text, column_of, publish, warehouse_state

from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import open_source
from {{ cookiecutter.project }}.staging import conform
from {{ cookiecutter.project }}.synthetic import EXTRA_COLUMN, features, with_defect

# Strings that break naive CSV or SQL handling; None is NULL, "" the empty string.
HOSTILE = ["it's", 'say "hi"', '"', "'", "a;b", "'; DROP TABLE x; --", "a,b,c", "x" * 10_000,
           "naïve café 日本語 🙂", "line1\nline2", "cr\r\nlf", "\ttab", "back\\slash", "\\N",
           "NA", "null", "", " padded ", None]  # fmt: skip


def test_reads_in_chunks_exactly_the_rows_published(settings):
    frame = features(DAY, entities=50)
    column = column_of("Int64", "Float64")
    frame[column] = frame[column].astype(object)
    frame.loc[[3, 40], column] = None  # NULLs in some chunks, not in the others
    publish(settings, DAY, frame)
    publish(settings, EARLIER, features(EARLIER, entities=5))  # outside the interval
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(FEATURES, Interval.day(DAY)))

    assert [len(chunk) for chunk in chunks] == [7] * 7 + [1]
    assert all(chunk.dtypes.equals(chunks[0].dtypes) for chunk in chunks)  # whatever values a chunk holds
    got = conform(pd.concat(chunks, ignore_index=True), FEATURES, DAY)
    got = got.sort_values(KEY, ignore_index=True)  # a query without ORDER BY promises no order
    pd.testing.assert_frame_equal(got, conform(frame, FEATURES, DAY))


def test_extracting_a_day_twice_leaves_identical_staging(settings, sql):
    publish(settings, DAY, features(DAY, entities=30))
    assert extract(settings, FEATURES, Interval.day(DAY), "r1") == 30
    first = warehouse_state(sql)["rows"]

    assert extract(settings, FEATURES, Interval.day(DAY), "r2") == 30

    assert warehouse_state(sql)["rows"] == first and len(first) == 30
    assert sql("SELECT row_count, run_id FROM staging_batches") == [(30, "r2")]


def test_an_interval_with_no_rows_is_an_empty_batch(settings, sql):
    publish(settings, DAY, with_defect(features(DAY, entities=10), "empty"))

    [chunk] = open_source(settings).read(FEATURES, Interval.day(DAY))
    assert chunk.empty and set(FEATURES.names) <= set(chunk.columns)  # the source's columns

    assert extract(settings, FEATURES, Interval.day(DAY), "r1") == 0

    assert sql("SELECT row_count, source_columns FROM staging_batches") == [(0, list(chunk.columns))]
    assert sql(f'SELECT count(*) FROM "{FEATURES.table}"') == [(0,)]  # noqa: S608


def test_renamed_column_reaches_staging_as_drift(settings, sql):
    renamed = column_of()
    publish(settings, DAY, with_defect(features(DAY, entities=10), "renamed_column", renamed))

    assert extract(settings, FEATURES, Interval.day(DAY), "r1") == 10

    [(columns,)] = sql("SELECT source_columns FROM staging_batches")
    assert f"{renamed}_renamed" in columns
    # A file no longer has the column; a table keeps it, NULL on that day.
    assert renamed not in columns or sql(
        f'SELECT count("{renamed}") FROM "{FEATURES.table}"'  # noqa: S608
    ) == [(0,)]


def test_an_extra_column_is_recorded_with_the_batch(settings, sql):
    publish(settings, DAY, with_defect(features(DAY, entities=10), "extra_column"))
    assert extract(settings, FEATURES, Interval.day(DAY), "r1") == 10
    [(columns,)] = sql("SELECT source_columns FROM staging_batches")
    assert EXTRA_COLUMN in columns and set(FEATURES.names) <= set(columns)


@pytest.mark.parametrize(
    ("dtypes", "bad"),
    [(("Int64", "Float64"), "twelve"), (("Float64",), "NaN"), (("Float64",), "N/A")],
    ids=["word", "NaN", "N/A"],
)
def test_text_in_a_numeric_column_fails_with_no_partial_write(settings, sql, staged_days, dtypes, bad):
    """The message quotes the source's own text: `NaN` is no number and no NULL either."""
    column = column_of(*dtypes)
    frame = as_text(features(DAY, entities=30), column)
    frame.loc[29, column] = bad  # in the last chunk: earlier chunks were copied
    publish(settings, DAY, frame)

    with pytest.raises(ExtractError, match=rf"{re.escape(column)}: 1 value\(s\) are not a number.*'{bad}'"):
        extract(replace(settings, chunk_rows=7), FEATURES, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days


def test_hostile_strings_round_trip_byte_exact(settings, sql):
    column = column_of("string")
    sql("CREATE TABLE x (id int)")
    frame = features(DAY, entities=len(HOSTILE))
    frame[column] = pd.array(HOSTILE, dtype="string")
    publish(settings, DAY, frame)

    assert extract(replace(settings, chunk_rows=5), FEATURES, Interval.day(DAY), "r1") == len(HOSTILE)

    stored = sql(f'SELECT "{column}" FROM "{FEATURES.table}" ORDER BY "{KEY}"')  # noqa: S608
    assert [row[0] for row in stored] == HOSTILE
    assert sql("SELECT count(*) FROM x") == [(0,)]
