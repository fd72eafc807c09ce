"""Deterministic synthetic source data for the demo and the tests.

Customers get daily snapshots; each snapshot's outcome is observed LABEL_DELAY
days later, as labels arrive in real life. Spend drifts upwards over time, and
a few fixed days carry the defects the validation gate exists to stop.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from .config import Settings
from .datasets import CUSTOMER_SNAPSHOTS, OUTCOMES
from .interval import Interval
from .sources import open_source

LABEL_DELAY = 7
PLANS = np.array(["basic", "pro", "enterprise"])
# Defects by day offset from the first scored day; the other days are clean.
DEFECTS = {
    2: "nulls",  # a required column with missing values
    4: "out_of_range",  # negative tenure
    6: "duplicates",  # the same entity twice in one day
    8: "renamed_column",  # schema drift upstream: monthly_spend -> spend_monthly
    10: "empty",  # the upstream job ran but exported nothing
}


def snapshots(day: date, entities: int = 2000, seed: int = 7) -> pd.DataFrame:
    """One clean row per customer for `day`; the same inputs give the same rows."""
    static = np.random.default_rng(seed)
    plan = PLANS[static.choice(3, size=entities, p=[0.6, 0.3, 0.1])]
    base_spend = static.lognormal(3.5, 0.5, entities) * np.select(
        [plan == "basic", plan == "pro"], [1.0, 2.5], 6.0
    )
    joined_ago = static.integers(0, 120, entities)  # months before the epoch
    rng = np.random.default_rng([seed, day.toordinal()])
    months = (day - date(2020, 1, 1)).days // 30
    drift = 1.0 + 0.004 * max(0, (day - date(2025, 1, 1)).days)  # spend creeps up
    return pd.DataFrame(
        {
            "entity_id": np.arange(1, entities + 1, dtype="int64"),
            "tenure_months": (joined_ago + months % 12).astype("int64"),
            "monthly_spend": np.round(base_spend * drift * rng.normal(1.0, 0.05, entities), 2),
            "support_tickets": rng.poisson(np.where(plan == "basic", 1.2, 0.6)).astype("int64"),
            "plan": pd.array(plan, dtype="string"),
            "last_login_days": rng.geometric(np.where(plan == "enterprise", 0.5, 0.15)).astype("int64") - 1,
        }
    )


def outcomes(observed: date, entities: int = 2000, seed: int = 7) -> pd.DataFrame:
    """Outcomes observed on `observed`, for the snapshot taken LABEL_DELAY days before."""
    snapshot_day = observed - timedelta(days=LABEL_DELAY)
    snap = snapshots(snapshot_day, entities, seed)
    rng = np.random.default_rng([seed, snapshot_day.toordinal(), 1])
    risk = (
        -2.0
        + 0.55 * snap["support_tickets"]
        + 0.06 * snap["last_login_days"]
        - 0.015 * snap["tenure_months"]
        - 0.4 * (snap["plan"] == "enterprise").astype(float)
    )
{%- if cookiecutter.model_kind == "classification" %}
    label = (rng.random(entities) < 1 / (1 + np.exp(-risk.to_numpy()))).astype(float)
{%- else %}
    label = np.round(snap["monthly_spend"] * (1.05 - 0.1 * np.tanh(risk)) + rng.normal(0, 5, entities), 2)
{%- endif %}
    return pd.DataFrame({"snapshot_date": snapshot_day, "entity_id": snap["entity_id"], "label": label})


def with_defect(frame: pd.DataFrame, defect: str) -> pd.DataFrame:
    frame = frame.copy()
    if defect == "nulls":
        frame.loc[frame.index[::20], "monthly_spend"] = None
    elif defect == "out_of_range":
        frame.loc[frame.index[::50], "tenure_months"] = -3
    elif defect == "duplicates":
        frame = pd.concat([frame, frame.head(15)], ignore_index=True)
    elif defect == "renamed_column":
        frame = frame.rename(columns={"monthly_spend": "spend_monthly"})
    elif defect == "empty":
        frame = frame.head(0)
    else:
        raise ValueError(f"unknown defect {defect!r}")
    return frame


def seed_source(
    settings: Settings,
    first_scored: date,
    scored_days: int,
    history_days: int,
    entities: int = 2000,
    seed: int = 7,
) -> None:
    """Publish history + scored days of snapshots and outcomes to the configured source."""
    source = open_source(settings)
    first = first_scored - timedelta(days=history_days + LABEL_DELAY)
    for offset in range((first_scored - first).days + scored_days):
        day = first + timedelta(days=offset)
        snap = snapshots(day, entities, seed)
        defect = DEFECTS.get((day - first_scored).days)
        source.publish(CUSTOMER_SNAPSHOTS, Interval.day(day), with_defect(snap, defect) if defect else snap)
        source.publish(OUTCOMES, Interval.day(day), outcomes(day, entities, seed))
