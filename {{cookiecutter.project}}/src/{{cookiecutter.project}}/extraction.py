"""Extract one dataset for one data interval into its staging partition.

The partition is replaced in a single warehouse transaction: delete the day, then
COPY the source's chunks. A failure anywhere (source, types, connection) rolls
back both, so the previous contents of the partition survive and a rerun never
duplicates rows.
"""

from __future__ import annotations

import pandas as pd
import psycopg2
from psycopg2 import sql

from .config import Settings
from .datasets import Dataset
from .interval import Interval
from .sources import SourceError, open_source
from .warehouse import copy_frame, transaction

_DTYPES = {
    "bigint": "Int64",
    "integer": "Int64",
    "double precision": "Float64",
    "text": "string",
    "date": "date",
}


class ExtractError(ValueError):
    """The source's rows cannot be staged as they are; nothing was written."""


def extract(settings: Settings, dataset: Dataset, interval: Interval, run_id: str) -> int:
    """Replace the staging partition for `interval` with the source's rows; returns the row count."""
    source = open_source(settings)
    day = interval.partition
    rows, source_columns = 0, None
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE logical_date = %s").format(sql.Identifier(dataset.table)), (day,)
        )
        for chunk in source.read(dataset, interval):
            if source_columns is None:
                source_columns = [str(c) for c in chunk.columns]
            try:
                rows += copy_frame(conn, dataset.table, conform(chunk, dataset, day))
            except psycopg2.DataError as exc:  # e.g. a value out of range for its column's type
                raise ExtractError(f"{dataset.table} rejected the batch: {exc}".strip()) from exc
        cur.execute(
            # clock_timestamp(), not now() (the transaction's start): a validation recorded
            # while these rows were being copied must not count as validating them.
            """INSERT INTO staging_batches
                   (dataset, logical_date, row_count, source_columns, source, run_id, extracted_at)
                   VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp())
                   ON CONFLICT (dataset, logical_date) DO UPDATE SET
                     row_count = EXCLUDED.row_count, source_columns = EXCLUDED.source_columns,
                     source = EXCLUDED.source, run_id = EXCLUDED.run_id, extracted_at = clock_timestamp()""",
            (dataset.name, day, rows, source_columns or [], source.description, run_id),
        )
    source.commit(dataset, interval)
    return rows


def conform(chunk: pd.DataFrame, dataset: Dataset, day) -> pd.DataFrame:
    """Cast a source chunk to the staging table's columns and types.

    Columns the source no longer sends become NULL and unknown ones are dropped:
    the batch's own column list is kept in staging_batches, where the validation
    gate reports the drift. A value that cannot be cast is an error here, with the
    column and sample values, since the typed staging table cannot hold it.
    """
    out = pd.DataFrame({"logical_date": pd.Series([day] * len(chunk), dtype="object")})
    for column, pg_type in dataset.columns.items():
        values = chunk[column] if column in chunk.columns else pd.Series([None] * len(chunk))
        out[column] = _cast(values.reset_index(drop=True), pg_type, f"{dataset.name}.{column}")
    return out


def _cast(values: pd.Series, pg_type: str, label: str) -> pd.Series:
    dtype = _DTYPES[pg_type]
    if dtype == "string":
        return values.astype("string")
    if dtype == "date":
        parsed = pd.to_datetime(values, errors="coerce")
        _reject(values, parsed, label, "a date")
        return parsed.dt.date
    if values.dtype.kind in "iu" or (values.dtype.kind == "f" and dtype == "Float64"):
        return values.astype(dtype)  # already numbers that fit: nothing to parse, reject or round
    numeric = pd.to_numeric(values, errors="coerce")
    _reject(values, numeric, label, "a number")
    if dtype == "Int64":
        fractional = numeric.notna() & (numeric % 1 != 0)
        if fractional.any():
            raise ExtractError(f"{label}: expected an integer, got {values[fractional].head(5).tolist()}")
    return numeric.astype(dtype)


def _reject(raw: pd.Series, parsed: pd.Series, label: str, what: str) -> None:
    bad = parsed.isna() & raw.notna()
    if bad.any():
        samples = [str(v)[:80] for v in raw[bad].head(5)]
        raise ExtractError(f"{label}: {bad.sum()} value(s) are not {what}, e.g. {samples}")


__all__ = ["ExtractError", "SourceError", "conform", "extract"]
