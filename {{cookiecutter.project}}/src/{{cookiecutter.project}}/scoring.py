"""Batch scoring: the champion model scores one validated features partition into `predictions`.

A date is scored in one transaction that replaces its partition of `predictions`
(warehouse/partitions.py). The staged rows stream out through COPY on a
connection of their own, are scored a chunk at a time, and stream into the new
partition through binary COPY from a thread: reading, scoring and the server's
ingest overlap, and memory holds a few chunks whatever the row count. Two runs
of one date are serialised by a lock on the date: the second waits, then replaces.

Sharded (SCORING_SHARDS=N): N tasks each score the rows whose key hashes to their
shard into a staged table of the run (`score_shard`), and one task publishes them
all as the date's partition in one transaction (`publish_shards`).
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from datetime import UTC, date, datetime

import pandas as pd
from psycopg2 import sql

from . import model, registry, staging
from .config import Settings
from .failures import PermanentFailure
from .interval import Interval
from .model.contract import CONTRACT
from .model.features import build_features
from .registry import ModelUnavailable, Version
from .warehouse import connect, partitions, transaction
from .warehouse.bulk import copy_frames

TABLE = "predictions"


class PartitionNotValidated(PermanentFailure, RuntimeError):
    """The partition has no passing validation since it was last extracted."""


def predict(settings: Settings, interval: Interval, run_id: str) -> int:
    """Replace the partition's predictions in one transaction; returns the rows written."""
    day = interval.partition
    champion, estimator = load_champion(settings)
    with transaction(settings) as conn:
        partitions.lock(conn, TABLE, day)  # a second run of the date waits here, then replaces
        require_validated(conn, day)
        pin(conn, champion.version)
        with partitions.replacing(conn, TABLE, day) as staged:
            return copy_frames(conn, staged, scored(settings, estimator, champion, day, run_id))


def score_shard(settings: Settings, interval: Interval, run_id: str, shard: int, shards: int) -> int:
    """Score the rows whose key hashes to `shard` (of `shards`) into this run's area; returns the rows."""
    day = interval.partition
    champion, estimator = load_champion(settings)
    with transaction(settings) as conn, conn.cursor() as cur:
        extracted_at = require_validated(conn, day)
        pin(conn, champion.version)
        staged = partitions.begin(conn, TABLE, day, area=shard_area(run_id, shard))
        rows = copy_frames(conn, staged, scored(settings, estimator, champion, day, run_id, (shard, shards)))
        cur.execute(
            """INSERT INTO prediction_shards
                   (data_date, run_id, shard, shards, staged_table, model_version, extracted_at, row_count)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (data_date, run_id, shard) DO UPDATE SET
                 shards = EXCLUDED.shards, staged_table = EXCLUDED.staged_table,
                 model_version = EXCLUDED.model_version, extracted_at = EXCLUDED.extracted_at,
                 row_count = EXCLUDED.row_count, scored_at = now()""",
            (day, run_id, shard, shards, staged, champion.version, extracted_at, rows),
        )
    return rows


def publish_shards(settings: Settings, interval: Interval, run_id: str, shards: int) -> int:
    """Replace the date's predictions with this run's `shards` shards, in one transaction."""
    day = interval.partition
    with transaction(settings) as conn, conn.cursor() as cur:
        partitions.lock(conn, TABLE, day)
        tables, version, rows = scored_shards(conn, day, run_id, shards)
        pin(conn, version)
        partitions.publish(conn, TABLE, day, tables)
        cur.execute("DELETE FROM prediction_shards WHERE data_date = %s AND run_id = %s", (day, run_id))
    return rows


def scored_shards(conn, day: date, run_id: str, shards: int) -> tuple[list[str], str, int]:
    """The staged tables of a run's shards, their model version and rows, once every shard has
    scored the partition as it is extracted now, with one version."""
    extracted_at = require_validated(conn, day)
    with conn.cursor() as cur:
        cur.execute(
            """SELECT shard, staged_table, model_version, extracted_at, row_count FROM prediction_shards
               WHERE data_date = %s AND run_id = %s AND shards = %s ORDER BY shard""",
            (day, run_id, shards),
        )
        done = cur.fetchall()
    if [row[0] for row in done] != list(range(shards)):
        raise RuntimeError(f"{day}: {len(done)} of {shards} shards of run {run_id} are scored")
    if {row[3] for row in done} != {extracted_at}:
        raise PartitionNotValidated(f"{day} was extracted again after its shards were scored: score it again")
    versions = {row[2] for row in done}
    if len(versions) != 1:
        raise ModelUnavailable(
            f"{day}: the champion changed while the shards ran ({sorted(versions)}): rerun"
        )
    return [row[1] for row in done], versions.pop(), sum(row[4] for row in done)


def load_champion(settings: Settings) -> tuple[Version, object]:
    champion = registry.champion(settings)
    if champion is None:
        raise ModelUnavailable("no champion model yet: run the retrain DAG first")
    return champion, registry.load(settings, champion)


def require_validated(conn, day: date) -> datetime:
    """When the partition was extracted; PartitionNotValidated unless it passed validation since.

    The batch row stays locked until the transaction ends: a re-extraction waits
    for it before swapping the partition, so the rows read meanwhile are the ones
    validated, on any connection.
    """
    features = CONTRACT.features
    with conn.cursor() as cur:
        cur.execute(
            "SELECT extracted_at FROM staging_batches WHERE dataset = %s AND data_date = %s FOR SHARE",
            (features.name, day),
        )
        batch = cur.fetchone()
        cur.execute(
            "SELECT success FROM partition_status WHERE dataset = %s AND data_date = %s",
            (features.name, day),
        )
        status = cur.fetchone()
    if not batch or not status or status[0] is not True:
        raise PartitionNotValidated(f"{features.name} for {day} has not passed validation")
    return batch[0]


def pin(conn, version: str) -> None:
    """Check once per transaction, not per row, that the version is registered, and keep it so."""
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM model_versions WHERE version = %s FOR KEY SHARE", (version,))
        if cur.fetchone() is None:
            raise ModelUnavailable(f"model {version} is not registered")


def scored(settings: Settings, estimator, champion: Version, day: date, run_id: str, shard=None):
    """The partition's prediction rows, a chunk at a time, read on a connection of their own;
    `shard` (k, n): only the rows whose key hashes to k modulo n."""
    predicted_at = pd.Timestamp(datetime.now(UTC))
    query, params = rows_to_score(day, shard)
    with closing(connect(settings)) as conn:
        for chunk in staging.stream(conn, query, params, CONTRACT.features.dtypes, settings.chunk_rows):
            if chunk.empty:
                continue
            yield pd.DataFrame(
                {
                    "data_date": chunk["data_date"],
                    "entity_id": chunk[CONTRACT.key],
                    "score": model.predict(estimator, build_features(chunk)),
                    "model_version": champion.version,
                    "predicted_at": predicted_at,
                    "run_id": run_id,
                }
            )


def rows_to_score(day: date, shard: tuple[int, int] | None) -> tuple[sql.Composed, tuple]:
    """The features partition, or one shard of it by a hash of the key's text; in no order, since
    the server would have to sort it all before sending the first row."""
    select = staging.select(CONTRACT.features, ["data_date", *CONTRACT.features.names])
    if shard is None:
        return select, (day,)
    where = sql.SQL("{} AND (hashtext({}::text) & 2147483647) %% %s = %s")
    return where.format(select, sql.Identifier(CONTRACT.key)), (day, shard[1], shard[0])


def shard_area(run_id: str, shard: int) -> str:
    """The staged table's suffix for a shard of a run: short, and the same on a retry."""
    return f"r{hashlib.sha256(run_id.encode()).hexdigest()[:6]}s{shard}"
