"""Staged data in the contract's types: source chunks cast on the way in, typed reads on the way out.

In: `conform` casts a source chunk to its dataset's columns. A value that cannot be
stored in its column (text that is not a number, a fraction in an integer column,
a number beyond the type's range, an infinity) is an ExtractError naming the
dataset, the column, how many values and up to five of them: a permanent failure,
since a retry reads the same values.

Out: `read` gives rows of staged data with each contract column in its contract
dtype, never inferred from the values, so a day on which a float column holds only
whole numbers is still float, and training and scoring see the same types.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from psycopg2 import sql

from .datasets import Column, Dataset
from .failures import PermanentFailure
from .warehouse import read_frame
from .warehouse.bulk import as_dtypes, stream_frames

MAX_SAMPLES = 5
PARTITION = {"data_date": "datetime64[us]"}  # the column every staged row carries, in frames
_TRUE, _FALSE = frozenset({"true", "t", "yes", "y", "1"}), frozenset({"false", "f", "no", "n", "0"})


class ExtractError(PermanentFailure, ValueError):
    """The source's rows cannot be staged as they are; nothing was written."""


def conform(chunk: pd.DataFrame, dataset: Dataset, day: date) -> pd.DataFrame:
    """Cast a source chunk to the staging table's columns and types, with the partition's date.

    Columns the source no longer sends become NULL and unknown ones are left out: the
    batch's own column list is kept in staging_batches, and the validation gate fails
    a batch whose columns differ from the contract, naming them.
    """
    out = pd.DataFrame({"data_date": pd.Series([day] * len(chunk), dtype="object")})
    for column in dataset.columns:
        values = chunk[column.name] if column.name in chunk.columns else pd.Series([None] * len(chunk))
        out[column.name] = cast(values.reset_index(drop=True), column, f"{dataset.name}.{column.name}")
    return out


def cast(values: pd.Series, column: Column, label: str) -> pd.Series:
    """`values` in the column's contract dtype, or an ExtractError naming `label` and samples."""
    try:
        return _cast(values, column, label)
    except ExtractError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:  # a case the checks below did not foresee
        raise ExtractError(f"{label}: cannot be read as {column.type}: {exc}".strip()) from exc


def _cast(values: pd.Series, column: Column, label: str) -> pd.Series:
    dtype = column.kind.pandas
    if dtype == "string":
        return values.astype("string")
    if dtype.startswith("datetime64"):
        # Times without a zone are UTC; a date keeps the day of a timestamp, as PostgreSQL's cast does.
        parsed = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        _reject(values, parsed.isna() & values.notna(), label, f"a {column.type}")
        return (parsed if "UTC" in dtype else parsed.dt.tz_localize(None).dt.normalize()).astype(dtype)
    if dtype == "boolean":
        return _booleans(values, label)
    numeric = values
    if values.dtype.kind not in "iuf":  # text, Decimal, ...: integers parse exactly, beyond 2**53 too
        numeric = pd.to_numeric(values, errors="coerce", dtype_backend="numpy_nullable")
        _reject(values, numeric.isna() & values.notna(), label, "a number")
    if numeric.dtype.kind == "f":
        floats = numeric.to_numpy(dtype="float64", na_value=np.nan)
        known = ~np.isnan(floats)
        _reject(values, known & ~np.isfinite(floats), label, "a finite number")
        if dtype == "Float64":
            return numeric.astype("Float64")
        _reject(values, known & (floats % 1 != 0), label, "a whole number")
        low, high = column.kind.bounds
        _reject(values, known & ((floats < low) | (floats >= high + 1)), label, _range(column))
    elif dtype == "Int64":
        low, high = column.kind.bounds
        outside = numeric > high if numeric.dtype.kind == "u" else (numeric < low) | (numeric > high)
        _reject(values, outside, label, _range(column))
    return numeric.astype(dtype)


def _range(column: Column) -> str:
    low, high = column.kind.bounds
    return f"within the range of {column.type} [{low}, {high}]"


def _booleans(values: pd.Series, label: str) -> pd.Series:
    if values.dtype.kind == "b":
        return values.astype("boolean")
    text = values.astype("string").str.strip().str.lower()
    parsed = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None, na_action="ignore")
    _reject(values, parsed.isna() & values.notna(), label, "a boolean (true/false, t/f, yes/no, 1/0)")
    return parsed.astype("boolean")


def _reject(raw: pd.Series, bad, label: str, what: str) -> None:
    bad = pd.Series(bad).fillna(False).to_numpy(dtype=bool)
    if bad.any():
        samples = [str(v)[:80] for v in raw[bad][:MAX_SAMPLES]]
        raise ExtractError(f"{label}: {int(bad.sum())} value(s) are not {what}, e.g. {samples}")


# --------------------------------------------------------------------------- out


def select(dataset: Dataset, columns: list[str] | None = None) -> sql.Composed:
    """SELECT of `columns` (default: the contract's) from the dataset's staging table, one partition."""
    names = dataset.names if columns is None else columns
    return sql.SQL("SELECT {} FROM {} WHERE data_date = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, names)) if names else sql.SQL("1 AS no_columns"),
        sql.Identifier(dataset.table),
    )


def read(conn, query: sql.Composable, params: tuple | dict, dtypes: dict[str, str]) -> pd.DataFrame:
    """Rows of a query over staged data; columns named in `dtypes` (a dataset's, usually) get
    those dtypes, and `data_date` is a date, whatever the values."""
    return read_frame(conn, query, params, dtypes={**PARTITION, **dtypes})


def stream(conn, query: sql.Composable, params: tuple | dict, dtypes: dict[str, str], chunk_rows: int):
    """The same, streamed through COPY in frames of `chunk_rows` (warehouse.bulk.stream_frames);
    `conn` is busy until the iterator ends."""
    for frame in stream_frames(conn, query, params, chunk_rows, typed=True):
        yield as_dtypes(frame, {**PARTITION, **dtypes})
