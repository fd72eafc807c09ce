"""The binary COPY writer (warehouse/bulk.py, pgbinary.py) against a real PostgreSQL: every type
of the data contract round-trips value for value, NULLs and extremes included, and an error on
either side of the COPY leaves nothing written."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import psycopg2
import pytest

from {{ cookiecutter.project }}.datasets import TYPES
from {{ cookiecutter.project }}.warehouse import transaction
from {{ cookiecutter.project }}.warehouse.bulk import copy_frames, stream_frames

# One column per contract type, plus text of one width (a record array per chunk) and of any.
COLUMNS = {f"c_{t.replace(' ', '_')}": t for t in TYPES} | {"one_width": "text"}
VALUES = {
    "bigint": [-(2**63), 2**63 - 1, 0, None],
    "integer": [-(2**31), 2**31 - 1, 7, None],
    "double precision": [1.5, -0.0, 1e308, None],
    "text": ["", "Zürich 🙂", 'a\tb\n"c"\\N', None],
    "boolean": [True, False, None, True],
    "date": [date(1999, 12, 31), date(2000, 1, 1), date(2262, 4, 11), None],
    "timestamp with time zone": [
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2025, 3, 3, 10, 0, 0, 1, tzinfo=UTC),
        None,
        datetime(2000, 1, 1, tzinfo=UTC),
    ],
}


def frame(rows: slice, nulls: bool = True) -> pd.DataFrame:
    """The VALUES (without their NULL rows unless `nulls`), in the contract's dtypes."""
    data = {}
    for name, pg_type in COLUMNS.items():
        values = ["abc", "xyz", "def", "ghi"] if name == "one_width" else VALUES[pg_type]
        series = pd.Series(values[rows], dtype=TYPES[pg_type].pandas)
        data[name] = series
    out = pd.DataFrame(data)
    return out if nulls else out.dropna().reset_index(drop=True)


@pytest.fixture
def table(settings, sql):
    columns = ", ".join(f"{name} {pg_type}" for name, pg_type in COLUMNS.items())
    sql(f"CREATE TABLE round_trip (n serial, {columns})")
    return "round_trip"


def test_every_contract_type_round_trips(settings, sql, table):
    # With NULLs, rows are joined field by field; with every field of one width, a record array.
    one_width = frame(slice(0, 4), nulls=False).assign(c_text=lambda f: ["ab", "cd"][: len(f)])
    chunks = [frame(slice(0, 2)), frame(slice(2, 4)), one_width]
    assert len(one_width) == 2 and not one_width.isna().any().any()
    with transaction(settings) as conn:
        assert copy_frames(conn, table, iter(chunks)) == sum(map(len, chunks))

    expected = pd.concat(chunks, ignore_index=True).astype(object).where(lambda f: f.notna(), None)
    got = sql(f"SELECT {', '.join(COLUMNS)} FROM {table} ORDER BY n")  # noqa: S608
    for (name, pg_type), column in zip(COLUMNS.items(), zip(*got, strict=True), strict=True):
        want = [_python(v, pg_type) for v in expected[name]]
        assert list(column) == want, name


def test_rows_streamed_out_in_their_types_copy_back_unchanged(settings, sql, table):
    """stream_frames(typed=True) reads what copy_frames writes, a frame spanning blocks pyarrow parsed."""
    rows = pd.concat([frame(slice(0, 4))] * 5000, ignore_index=True)  # a few MB of CSV
    with transaction(settings) as conn:
        copy_frames(conn, table, [rows, rows])
    sql(f"CREATE TABLE copied (LIKE {table})")
    columns = ", ".join(COLUMNS)
    query = f"SELECT n, {columns} FROM {table}"  # noqa: S608
    with transaction(settings) as reader, transaction(settings) as writer:
        frames = stream_frames(reader, query, (), 2 * len(rows), typed=True)
        assert copy_frames(writer, "copied", frames) == 2 * len(rows)
    assert sql(f"SELECT n, {columns} FROM copied ORDER BY n") == sql(f"{query} ORDER BY n")  # noqa: S608


def test_an_error_making_the_rows_ends_the_copy_and_writes_nothing(settings, sql, table):
    def frames():
        yield frame(slice(0, 4))
        raise ValueError("the model failed")

    with pytest.raises(ValueError, match="the model failed"), transaction(settings) as conn:
        copy_frames(conn, table, frames())
    assert sql(f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608


def test_an_error_in_the_server_fails_the_copy_and_writes_nothing(settings, sql, table):
    sql(f"ALTER TABLE {table} ALTER COLUMN c_bigint SET NOT NULL")  # noqa: S608
    with pytest.raises(psycopg2.errors.NotNullViolation), transaction(settings) as conn:
        copy_frames(conn, table, (frame(slice(0, 4)) for _ in range(3)))
    assert sql(f"SELECT count(*) FROM {table}") == [(0,)]  # noqa: S608


def _python(value, pg_type: str):
    """A frame's value as psycopg2 gives it back."""
    if value is None:
        return None
    if pg_type == "date":
        return pd.Timestamp(value).date()
    if pg_type == "timestamp with time zone":
        return pd.Timestamp(value).to_pydatetime()
    if isinstance(value, np.generic):
        return value.item()
    return value
