"""Extract one dataset for one data interval into its staging partition.

The partition is replaced in a single warehouse transaction: the source's chunks
are copied into a staged table that then takes the day's place (warehouse/partitions.py).
A failure anywhere (source, types, connection) rolls it all back, so the previous
contents of the partition survive and a rerun never duplicates rows; a second
extraction of the same day waits for the first, then replaces it.
"""

from __future__ import annotations

import psycopg2

from .config import Settings
from .datasets import Dataset
from .interval import Interval
from .model.contract import CONTRACT
from .sources import SourceError, open_source
from .staging import ExtractError, conform
from .warehouse import copy_frame, partitions, transaction


def extract(settings: Settings, dataset: Dataset, interval: Interval, run_id: str) -> int:
    """Replace the staging partition for `interval` with the source's rows; returns the row count."""
    source = open_source(settings)
    day = interval.partition
    rows, sent, carried = 0, None, set()
    with transaction(settings) as conn, partitions.replacing(conn, dataset.table, day) as staged:
        for chunk in source.read(dataset, interval):
            if sent is None:
                sent = [str(c) for c in chunk.columns]
            carried.update(
                str(c) for c in chunk.columns if str(c) not in dataset.names and chunk[c].notna().any()
            )
            try:
                rows += copy_frame(conn, staged, conform(chunk, dataset, day))
            except psycopg2.DataError as exc:  # e.g. a value out of range for its column's type
                raise ExtractError(f"{dataset.table} rejected the batch: {exc}".strip()) from exc
        # Before the swap: a validation or scoring holding this batch row is waited for first,
        # so neither can then wait on the swap while this transaction waits on them.
        record_batch(conn, dataset, day, rows, source_columns(dataset, sent or [], carried), source, run_id)
    source.commit(dataset, interval)
    return rows


def extract_features(settings: Settings, interval: Interval, run_id: str) -> int:
    return extract(settings, CONTRACT.features, interval, run_id)


def extract_labels(settings: Settings, interval: Interval, run_id: str) -> int:
    return extract(settings, CONTRACT.labels, interval, run_id)


def record_batch(conn, dataset: Dataset, day, rows: int, columns: list[str], source, run_id: str) -> None:
    with conn.cursor() as cur:
        cur.execute(
            # clock_timestamp(), not now() (the transaction's start): a validation recorded
            # while these rows were being copied must not count as validating them.
            """INSERT INTO staging_batches
                   (dataset, data_date, row_count, source_columns, source, run_id, extracted_at)
                   VALUES (%s, %s, %s, %s, %s, %s, clock_timestamp())
                   ON CONFLICT (dataset, data_date) DO UPDATE SET
                     row_count = EXCLUDED.row_count, source_columns = EXCLUDED.source_columns,
                     source = EXCLUDED.source, run_id = EXCLUDED.run_id, extracted_at = clock_timestamp(),
                     pruned_at = NULL""",
            (dataset.name, day, rows, columns, source.description, run_id),
        )


def source_columns(dataset: Dataset, sent: list[str], carried: set[str]) -> list[str]:
    """The batch's columns, as the validation gate judges them: every contract column the
    source sent, and every other column that carries a value in this batch.

    A table source sends all the columns its table ever gained; one that another day
    added, NULL throughout this batch, says nothing about this batch.
    """
    return [c for c in sent if c in dataset.names or c in carried]


__all__ = ["ExtractError", "SourceError", "extract"]
