"""Retraining: gather a labelled window, fit, evaluate on a holdout, register, gate.

The window is the outcomes observed in the `training_window_days` before the
run's interval end, joined to the snapshots they label. Only snapshot partitions
that passed validation are used.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import model, registry
from .config import Settings
from .datasets import CUSTOMER_SNAPSHOTS, OUTCOMES
from .extraction import extract
from .interval import Interval
from .model import metrics
from .model.estimator import build_estimator
from .model.features import build_features
from .validation import ValidationFailed, validate
from .warehouse import read_frame, transaction

HOLDOUT_FRACTION = 0.25  # the latest quarter of snapshot days, never seen in fitting
MIN_ROWS = 500


class NotEnoughData(RuntimeError):
    """The window holds too few validated, labelled rows to train on."""


def window(settings: Settings, interval: Interval) -> tuple[date, date]:
    end = interval.end.date()
    return end - timedelta(days=settings.training_window_days), end


def stage_window(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Extract the window's outcomes, and extract + validate the snapshots they label.

    Snapshot partitions already validated since their extraction are reused. A
    partition failing validation is left out of training, not fatal.
    """
    start, end = window(settings, interval)
    for offset in range((end - start).days):
        extract(settings, OUTCOMES, Interval.day(start + timedelta(days=offset)), run_id)
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT DISTINCT o.snapshot_date FROM staging_outcomes o
               LEFT JOIN partition_status p ON p.dataset = %s AND p.logical_date = o.snapshot_date
               WHERE o.logical_date >= %s AND o.logical_date < %s AND p.success IS NOT TRUE
               ORDER BY 1""",
            (CUSTOMER_SNAPSHOTS.name, start, end),
        )
        pending = [row[0] for row in cur.fetchall()]
    rejected = []
    for day in pending:
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(day), run_id)
        try:
            validate(settings, Interval.day(day), run_id)
        except ValidationFailed:
            rejected.append(day.isoformat())
    return {"start": start.isoformat(), "end": end.isoformat(), "staged": len(pending), "rejected": rejected}


def load_window(settings: Settings, start: date, end: date) -> pd.DataFrame:
    with transaction(settings) as conn:
        return read_frame(
            conn,
            """SELECT s.*, o.label FROM staging_outcomes o
               JOIN partition_status p ON p.dataset = %s AND p.logical_date = o.snapshot_date AND p.success
               JOIN staging_customer_snapshots s
                 ON s.logical_date = o.snapshot_date AND s.entity_id = o.entity_id
               WHERE o.logical_date >= %s AND o.logical_date < %s
               ORDER BY s.logical_date, s.entity_id""",
            (CUSTOMER_SNAPSHOTS.name, start, end),
        )


def train(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Fit and register a candidate; evaluate it and the champion on the same holdout."""
    start, end = window(settings, interval)
    data = load_window(settings, start, end)
    if len(data) < MIN_ROWS:
        raise NotEnoughData(
            f"{len(data)} labelled rows in [{start}, {end}), need {MIN_ROWS}: "
            "check extraction and validation of that window"
        )
    days = np.sort(data["logical_date"].unique())
    cutoff = days[-max(1, int(len(days) * HOLDOUT_FRACTION))]
    fit, holdout = data[data["logical_date"] < cutoff], data[data["logical_date"] >= cutoff]
    if fit.empty:
        raise NotEnoughData(f"only {len(days)} labelled day(s) in [{start}, {end}): nothing left to fit on")
    estimator = build_estimator().fit(build_features(fit), fit["label"])
    X_holdout = build_features(holdout)
    scores = metrics.evaluate(holdout["label"], model.predict(estimator, X_holdout))
    version = registry.register(settings, estimator, scores, start, end, len(fit), run_id)
    champion = registry.champion(settings)
    champion_scores = None
    if champion and champion.version != version.version:
        champion_model = registry.load(settings, champion)
        champion_scores = metrics.evaluate(holdout["label"], model.predict(champion_model, X_holdout))
    return {
        "version": version.version,
        "metrics": scores,
        "champion": champion and champion.version,
        "champion_metrics": champion_scores,
    }


def promote(settings: Settings, trained: dict, run_id: str) -> dict:
    """Apply the data scientist's gate and record the decision."""
    if trained["champion"] == trained["version"]:  # a rerun that retrained the same model
        return {"version": trained["version"], "promoted": False, "reason": "already the champion"}
    ok, reason = metrics.gate(trained["metrics"], trained["champion_metrics"])
    registry.decide(settings, trained["version"], ok, reason, run_id)
    return {"version": trained["version"], "promoted": ok, "reason": reason}
