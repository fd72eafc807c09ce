"""Synthetic rows drawn from the data contract: test data, benchmark data, and defects.

`features(day, entities)` makes a valid features partition whatever the contract
says: every column in its type, no NULL where the contract forbids one, a unique
key, and values within the ranges and allowed values the data scientists'
`expectations.py` declares (rules relating columns to each other are not read).
`labels(...)` labels such a partition with a planted signal (the label follows the
numeric and categorical features), so a reasonable model learns it and passes the
promotion gate. `with_defect` breaks a batch the ways the validation gate exists
to stop. The same inputs always give the same rows.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd

from .datasets import Column, Dataset
from .model import KIND
from .model.contract import CONTRACT

NULL_SHARE = 0.02  # of a nullable column's values, so that NULL paths run
DEFECTS = ("nulls", "out_of_range", "duplicates", "renamed_column", "extra_column", "empty")
EXTRA_COLUMN = "unexpected_column"


@cache
def business_rules() -> dict[str, dict]:
    """Per column, the range (`min`, `max`) and allowed values (`in`) the expectations declare."""
    import great_expectations.expectations as gxe

    from .model import expectations

    rules: dict[str, dict] = {}
    for rule in expectations.expectations():
        if isinstance(rule, gxe.ExpectColumnValuesToBeBetween):
            rules.setdefault(rule.column, {}).update(min=rule.min_value, max=rule.max_value)
        elif isinstance(rule, gxe.ExpectColumnValuesToBeInSet):
            rules.setdefault(rule.column, {})["in"] = list(rule.value_set)
    return rules


def features(day: date, entities: int = 100, seed: int = 0) -> pd.DataFrame:
    """One valid features partition for `day`, one row per entity."""
    return rows(CONTRACT.features, day, entities, seed)


def rows(dataset: Dataset, day: date, entities: int, seed: int = 0) -> pd.DataFrame:
    """`entities` valid rows of `dataset` for `day`, in the contract's dtypes."""
    rng = np.random.default_rng([seed, day.toordinal(), len(dataset.name)])
    frame = pd.DataFrame(
        {c.name: _values(c, dataset, day, entities, rng) for c in dataset.columns}, index=range(entities)
    )
    return frame.astype(dataset.dtypes)


def labels(observed: date, labelled: date, entities: int = 100, seed: int = 0) -> pd.DataFrame:
    """The labels observed on `observed` for the features partition of `labelled`."""
    dataset = CONTRACT.labels
    frame = rows(dataset, observed, entities, seed)
    labelled_rows = features(labelled, entities, seed)
    frame[CONTRACT.key] = labelled_rows[CONTRACT.key]
    frame[CONTRACT.labelled_date] = pd.Timestamp(labelled)
    rng = np.random.default_rng([seed, labelled.toordinal(), 1])
    signal = _signal(labelled_rows)
    if KIND == "classification":
        label = (rng.random(entities) < 1 / (1 + np.exp(-2.5 * signal))).astype(float)
    else:
        label = np.round(20 + 5 * signal + rng.normal(0, 1, entities), 3)
    frame[CONTRACT.label] = label
    return frame.astype(dataset.dtypes)


def with_defect(
    frame: pd.DataFrame, defect: str, column: str | None = None, dataset: Dataset = CONTRACT.features
) -> pd.DataFrame:
    """`frame` broken as named, in `column` or one chosen from the contract (see column_for)."""
    frame = frame.copy()
    column = column or column_for(defect, dataset)
    if defect == "nulls":
        frame[column] = frame[column].astype(object)
        frame.loc[frame.index[::20], column] = None
    elif defect == "out_of_range":
        rule = business_rules()[column]
        bad = rule["min"] - 1 if rule.get("min") is not None else rule["max"] + 1
        frame[column] = frame[column].astype(object)
        frame.loc[frame.index[::50], column] = bad
    elif defect == "duplicates":
        frame = pd.concat([frame, frame.head(15)], ignore_index=True)
    elif defect == "renamed_column":
        frame = frame.rename(columns={column: f"{column}_renamed"})
    elif defect == "extra_column":
        frame[EXTRA_COLUMN] = "surprise"
    elif defect == "empty":
        frame = frame.head(0)
    else:
        raise ValueError(f"unknown defect {defect!r}: one of {DEFECTS}")
    return frame


def column_for(defect: str, dataset: Dataset = CONTRACT.features) -> str | None:
    """The column a defect breaks: a required column that is neither the key nor the date
    for nulls and renames; one with a numeric range rule for out_of_range (None if none)."""
    plain = [c for c in dataset.columns if c.name not in (CONTRACT.key, dataset.date_column)]
    if defect == "out_of_range":
        ranged = [
            c.name
            for c in plain
            if c.kind.pandas in ("Int64", "Float64")
            and {"min", "max"} & {k for k, v in business_rules().get(c.name, {}).items() if v is not None}
        ]
        return ranged[0] if ranged else None
    required = [c.name for c in plain if not c.nullable]
    return (required or [c.name for c in plain])[0]


# --------------------------------------------------------------------------- values


def _values(column: Column, dataset: Dataset, day: date, n: int, rng: np.random.Generator) -> pd.Series:
    rule = business_rules().get(column.name, {}) if dataset is CONTRACT.features else {}
    if column.name == CONTRACT.key:
        values = _keys(column, n, rule)
    elif column.name == dataset.date_column:
        values = pd.Series([pd.Timestamp(day)] * n)
    elif "in" in rule:
        values = pd.Series(rng.choice(np.array(rule["in"], dtype=object), n))
    else:
        values = _drawn(column, day, n, rng, rule)
    if column.nullable and column.name != CONTRACT.key and n:
        values = values.astype(object)
        values[rng.random(n) < NULL_SHARE] = None
    return values


def _keys(column: Column, n: int, rule: dict) -> pd.Series:
    if column.type == "text":
        return pd.Series([f"e{i:07d}" for i in range(1, n + 1)])
    first = int(rule.get("min") or 1)
    return pd.Series(np.arange(first, first + n, dtype="int64"))


def _drawn(column: Column, day: date, n: int, rng: np.random.Generator, rule: dict) -> pd.Series:
    low = rule.get("min")
    high = rule.get("max")
    low = 0 if low is None else low
    high = low + 100 if high is None else high
    kind = column.kind.pandas
    if kind == "Int64":
        return pd.Series(rng.integers(int(np.ceil(low)), int(np.floor(high)) + 1, n))
    if kind == "Float64":
        return pd.Series(np.round(rng.uniform(low, high, n), 2))
    if kind == "boolean":
        return pd.Series(rng.random(n) < 0.5)
    if kind == "string":
        return pd.Series([f"{column.name}_{i}" for i in rng.integers(0, 4, n)])
    if kind.startswith("datetime64[us, UTC"):
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return pd.Series([start + timedelta(seconds=int(s)) for s in rng.integers(0, 86_400, n)])
    return pd.Series([pd.Timestamp(day - timedelta(days=int(d))) for d in rng.integers(0, 365, n)])


def _signal(frame: pd.DataFrame) -> np.ndarray:
    """A standardised mix of the features' numeric and categorical columns, about N(0, 1)."""
    parts = []
    for column in CONTRACT.features.columns:
        if column.name in (CONTRACT.key, CONTRACT.features.date_column):
            continue
        values = frame[column.name]
        if column.kind.pandas in ("Int64", "Float64", "boolean"):
            numbers = values.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        elif column.kind.pandas == "string":
            numbers = values.astype("category").cat.codes.to_numpy(dtype=float)
        else:
            continue
        numbers = np.nan_to_num(numbers, nan=np.nanmean(numbers) if np.isfinite(numbers).any() else 0.0)
        if numbers.std() > 0:
            parts.append((numbers - numbers.mean()) / numbers.std())
    if not parts:
        return np.zeros(len(frame))
    mixed = np.sum(parts, axis=0)
    return mixed / (mixed.std() or 1.0)
