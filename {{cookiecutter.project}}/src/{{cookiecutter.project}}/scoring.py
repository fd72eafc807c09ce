"""Batch scoring: the champion model scores one validated features partition into `predictions`."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
from psycopg2 import sql

from . import model, registry, staging
from .config import Settings
from .interval import Interval
from .model.contract import CONTRACT
from .model.features import build_features
from .registry import ModelUnavailable
from .warehouse import copy_frame, transaction


class PartitionNotValidated(RuntimeError):
    """The partition has no passing validation since it was last extracted."""


def predict(settings: Settings, interval: Interval, run_id: str) -> int:
    """Replace the partition's predictions in one transaction; returns the rows written."""
    features, key = CONTRACT.features, CONTRACT.key
    day = interval.partition
    champion = registry.champion(settings)
    if champion is None:
        raise ModelUnavailable("no champion model yet: run the retrain DAG first")
    estimator = registry.load(settings, champion)
    predicted_at = datetime.now(UTC)
    rows = 0
    with transaction(settings) as conn, conn.cursor() as cur:
        # Lock the batch row first: a re-extraction cannot then swap the rows between
        # this check and the read below (it waits for this transaction).
        cur.execute(
            "SELECT 1 FROM staging_batches WHERE dataset = %s AND data_date = %s FOR SHARE",
            (features.name, day),
        )
        cur.execute(
            "SELECT success FROM partition_status WHERE dataset = %s AND data_date = %s",
            (features.name, day),
        )
        status = cur.fetchone()
        if not status or status[0] is not True:
            raise PartitionNotValidated(f"{features.name} for {day} has not passed validation")
        cur.execute("DELETE FROM predictions WHERE data_date = %s", (day,))
        query = sql.SQL("{} ORDER BY {}").format(
            staging.select(features, ["data_date", *features.names]), sql.Identifier(key)
        )
        for chunk in staging.chunks(conn, query, (day,), features.dtypes, settings.chunk_rows):
            if chunk.empty:
                continue
            scores = model.predict(estimator, build_features(chunk))
            rows += copy_frame(
                conn,
                "predictions",
                pd.DataFrame(
                    {
                        "data_date": day,
                        "entity_id": chunk[key],
                        "score": scores,
                        "model_version": champion.version,
                        "predicted_at": predicted_at,
                        "run_id": run_id,
                    }
                ),
            )
    return rows
