"""The demo's source data: customers, their daily snapshots and whether they churned.

This file is the churn demo, one instance of the data contract in
`model/contract.py`. Customers get daily snapshots; each snapshot's outcome is
observed LABEL_DELAY days later, as labels arrive in real life. Spend drifts
upwards over time, and a few fixed days carry the defects the validation gate
exists to stop. Once the contract is changed to other data, `seed_source` seeds
synthetic rows drawn from that contract instead (synthetic.py), so `make demo`
keeps working on the new shape.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from . import synthetic
from .config import Settings
from .model.contract import CONTRACT

LABEL_DELAY = 7
PLANS = np.array(["basic", "pro", "enterprise"])
# Defects by day offset from the first scored day, each with the column it breaks;
# the other days are clean.
DEFECTS = {
    2: ("nulls", "monthly_spend"),  # a required column with missing values
    4: ("out_of_range", "tenure_months"),  # negative tenure
    6: ("duplicates", None),  # the same customer twice in one day
    8: ("renamed_column", "monthly_spend"),  # schema drift upstream: monthly_spend -> monthly_spend_renamed
    10: ("empty", None),  # the upstream job ran but exported nothing
    12: ("extra_column", None),  # upstream added a column nobody agreed on
}
# A day on which every value of a float column is a whole number: still a float, and clean.
WHOLE_NUMBERS_DAY, WHOLE_NUMBERS_COLUMN = 3, "monthly_spend"
# Days that pass the gate but not batch health (model/monitoring.py): nothing is scored.
STUCK_DAY, STUCK_COLUMN = 5, "last_login_days"  # the upstream job wrote 0 for everyone
REDELIVERED_DAY = 14  # the previous day's file sent again under this day's date


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
            "snapshot_date": pd.Timestamp(day),
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
    return pd.DataFrame(
        {
            "observed_on": pd.Timestamp(observed),
            "snapshot_date": pd.Timestamp(snapshot_day),
            "entity_id": snap["entity_id"],
            "label": label,
        }
    )


def is_the_contract() -> bool:
    """Whether model/contract.py still describes this demo's data."""
    day = date(2025, 1, 1)
    return (list(snapshots(day, 1).columns), list(outcomes(day, 1).columns)) == (
        CONTRACT.features.names,
        CONTRACT.labels.names,
    )


def batch(day: date, first_scored: date, entities: int, seed: int) -> pd.DataFrame:
    """The snapshots the source holds for `day`, with the demo's defect of that day if any."""
    offset = (day - first_scored).days
    source_day = day - timedelta(days=1) if offset == REDELIVERED_DAY else day
    if not is_the_contract():
        frame = synthetic.features(source_day, entities, seed)
        defect, _ = DEFECTS.get(offset, (None, None))
        if defect and (defect != "out_of_range" or synthetic.column_for(defect)):  # a range to break
            frame = synthetic.with_defect(frame, defect)
    else:
        frame = snapshots(source_day, entities, seed)
        if offset == WHOLE_NUMBERS_DAY:
            frame[WHOLE_NUMBERS_COLUMN] = frame[WHOLE_NUMBERS_COLUMN].round(0)
        if offset == STUCK_DAY:
            frame[STUCK_COLUMN] = 0
        if offset in DEFECTS:
            defect, column = DEFECTS[offset]
            frame = synthetic.with_defect(frame, defect, column=column)
    if CONTRACT.features.date_column:
        frame[CONTRACT.features.date_column] = pd.Timestamp(day)  # a re-delivery carries the new date
    return frame


def labels(observed: date, entities: int, seed: int) -> pd.DataFrame:
    if is_the_contract():
        return outcomes(observed, entities, seed)
    return synthetic.labels(observed, observed - timedelta(days=LABEL_DELAY), entities, seed)


def seed_source(
    settings: Settings,
    first_scored: date,
    scored_days: int,
    history_days: int,
    entities: int = 2000,
    seed: int = 7,
) -> None:
    """Publish history + scored days of features and labels to the configured source, for
    `entities` entities, or as many as the contract's key allows."""
    entities = synthetic.capped(entities)
    first = first_scored - timedelta(days=history_days + LABEL_DELAY)
    days = [first + timedelta(days=n) for n in range((first_scored - first).days + scored_days)]
    synthetic.seed_source(
        settings,
        days,
        lambda day: batch(day, first_scored, entities, seed),
        lambda day: labels(day, entities, seed),
    )
