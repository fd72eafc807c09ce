"""Extract one dataset for one data interval into its staging partition.

The partition is replaced in a single warehouse transaction: delete the day, then
COPY the source's chunks. A failure anywhere (source, types, connection) rolls
back both, so the previous contents of the partition survive and a rerun never
duplicates rows.
"""

from __future__ import annotations

import psycopg2
from psycopg2 import sql

from .config import Settings
from .datasets import Dataset
from .interval import Interval
from .sources import SourceError, open_source
from .staging import ExtractError, conform
from .warehouse import copy_frame, transaction


def extract(settings: Settings, dataset: Dataset, interval: Interval, run_id: str) -> int:
    """Replace the staging partition for `interval` with the source's rows; returns the row count."""
    source = open_source(settings)
    day = interval.partition
    rows, sent, carried = 0, None, set()
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            sql.SQL("DELETE FROM {} WHERE data_date = %s").format(sql.Identifier(dataset.table)), (day,)
        )
        for chunk in source.read(dataset, interval):
            if sent is None:
                sent = [str(c) for c in chunk.columns]
            carried.update(
                str(c) for c in chunk.columns if str(c) not in dataset.names and chunk[c].notna().any()
            )
            try:
                rows += copy_frame(conn, dataset.table, conform(chunk, dataset, day))
            except psycopg2.DataError as exc:  # e.g. a value out of range for its column's type
                raise ExtractError(f"{dataset.table} rejected the batch: {exc}".strip()) from exc
        cur.execute(
            # clock_timestamp(), not now() (the transaction's start): a validation recorded
            # while these rows were being copied must not count as validating them.
            """INSERT INTO staging_batches
                   (dataset, data_date, row_count, source_columns, source, run_id, extracted_at)
                   VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp())
                   ON CONFLICT (dataset, data_date) DO UPDATE SET
                     row_count = EXCLUDED.row_count, source_columns = EXCLUDED.source_columns,
                     source = EXCLUDED.source, run_id = EXCLUDED.run_id, extracted_at = clock_timestamp()""",
            (
                dataset.name,
                day,
                rows,
                source_columns(dataset, sent or [], carried),
                source.description,
                run_id,
            ),
        )
    source.commit(dataset, interval)
    return rows


def source_columns(dataset: Dataset, sent: list[str], carried: set[str]) -> list[str]:
    """The batch's columns, as the validation gate judges them: every contract column the
    source sent, and every other column that carries a value in this batch.

    A table source sends all the columns its table ever gained; one that another day
    added, NULL throughout this batch, says nothing about this batch.
    """
    return [c for c in sent if c in dataset.names or c in carried]


__all__ = ["ExtractError", "SourceError", "extract"]
