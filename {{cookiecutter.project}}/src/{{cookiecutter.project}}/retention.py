"""Retention of staged data: partitions older than STAGING_RETENTION_DAYS are dropped.

Kept whatever their age, so that retraining and audits still find them:
  - the labels observed in the next retraining's window, and in the champion's own
    training window (its training set can be rebuilt and checked);
  - every features partition those labels point at.
A dropped partition's batch row is marked `pruned_at` and no longer counts as
staged; its batch and validation rows stay, as the record of what was seen. Unset,
nothing is dropped.
"""

from __future__ import annotations

from datetime import date, timedelta

from psycopg2 import sql

from .config import Settings
from .datasets import Dataset
from .interval import Interval
from .model.contract import CONTRACT
from .training import window_of
from .warehouse import partitions, transaction


def prune(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Drop the staged partitions the policy no longer keeps; returns their dates by dataset."""
    if settings.staging_retention_days is None:
        return {}
    window_start, end = window_of(settings, interval)
    cutoff = min(end - timedelta(days=settings.staging_retention_days), window_start)
    labels, features = CONTRACT.labels, CONTRACT.features
    with transaction(settings) as conn:
        dropped = {labels.name: drop_older(conn, labels, cutoff, champion_labels(conn, cutoff))}
        # Then the features: a partition stays while a label still staged points at it.
        dropped[features.name] = drop_older(conn, features, cutoff, labelled_dates(conn, cutoff))
    return dropped


def drop_older(conn, dataset: Dataset, cutoff: date, kept: set[date]) -> list[str]:
    """Drop `dataset`'s staged partitions before `cutoff` but the `kept` ones; returns their dates."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT data_date FROM staging_batches
               WHERE dataset = %s AND data_date < %s AND pruned_at IS NULL ORDER BY 1""",
            (dataset.name, cutoff),
        )
        older = [row[0] for row in cur.fetchall() if row[0] not in kept]
        for day in older:
            partitions.drop(conn, dataset.table, day)
            cur.execute(
                "UPDATE staging_batches SET pruned_at = now() WHERE dataset = %s AND data_date = %s",
                (dataset.name, day),
            )
    return [day.isoformat() for day in older]


def champion_labels(conn, cutoff: date) -> set[date]:
    """Labels partitions before the cutoff that the champion was trained on."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT g::date FROM model_versions, generate_series(train_start, train_end - 1, '1 day') g
               WHERE status = 'champion' AND g < %s""",
            (cutoff,),
        )
        return {row[0] for row in cur.fetchall()}


def labelled_dates(conn, cutoff: date) -> set[date]:
    """Features partitions before the cutoff that a staged label (one not dropped) points at."""
    query = sql.SQL("SELECT DISTINCT {labelled} FROM {labels} WHERE {labelled} < %s").format(
        labelled=sql.Identifier(CONTRACT.labelled_date), labels=sql.Identifier(CONTRACT.labels.table)
    )
    with conn.cursor() as cur:
        cur.execute(query, (cutoff,))
        return {row[0] for row in cur.fetchall()}
