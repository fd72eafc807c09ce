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

import zlib
from datetime import UTC, date, datetime, timedelta
from functools import cache

import numpy as np
import pandas as pd
from psycopg2 import sql

from .config import Settings
from .datasets import Column, Dataset
from .interval import Interval
from .model import KIND
from .model.contract import CONTRACT
from .sources import open_source
from .staging import conform

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
    rng = np.random.default_rng([seed, day.toordinal(), zlib.crc32(dataset.name.encode())])
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
        label = 20 + 5 * signal + rng.normal(0, 1, entities)
    kind = dataset.column(CONTRACT.label).kind.pandas
    frame[CONTRACT.label] = label > 0.5 if kind == "boolean" else np.round(label, 0 if kind == "Int64" else 3)
    return frame.astype(dataset.dtypes)


def labelled(days: list[date], entities: int, seed: int = 0) -> pd.DataFrame:
    """Features rows joined to their labels, with the columns and dtypes training reads them with."""
    frames = []
    for day in days:
        rows = conform(features(day, entities, seed), CONTRACT.features, day)
        known = labels(day, day, entities, seed)[[CONTRACT.key, CONTRACT.label]]
        frames.append(rows.merge(known, on=CONTRACT.key, validate="one_to_one"))
    return pd.concat(frames, ignore_index=True)


def seed_source(settings: Settings, days: list[date], features_of, labels_of) -> None:
    """Publish to the configured source, for each day, `features_of(day)` as its features batch
    and `labels_of(day)` as the labels observed that day, as the upstream systems would."""
    source = open_source(settings)
    for day in days:
        source.publish(CONTRACT.features, Interval.day(day), features_of(day))
        source.publish(CONTRACT.labels, Interval.day(day), labels_of(day))


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


def source_table_sql(dataset: Dataset, schema: str, day: date, n: int) -> sql.Composed:
    """SQL that (re)creates `schema.<dataset name>` as a source table holding `n` valid rows of
    `day`, made by PostgreSQL from generate_series: millions in seconds, for the benchmarks.

    The values follow the same rules as `rows` (types, ranges, allowed values, a unique
    key, a few NULLs where the contract allows them), drawn arithmetically from the row number.
    """
    rules = business_rules() if dataset is CONTRACT.features else {}
    table = sql.Identifier(schema, dataset.name)
    columns = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.type)) for c in dataset.columns
    )
    values = sql.SQL(", ").join(
        _sql_value(c, dataset, day, rules.get(c.name, {}), _PRIMES[i % len(_PRIMES)])
        for i, c in enumerate(dataset.columns)
    )
    return sql.SQL(
        "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} ({columns});"
        " INSERT INTO {table} SELECT {values} FROM generate_series(1, {n}) AS i"
    ).format(table=table, columns=columns, values=values, n=sql.Literal(n))


_PRIMES = (7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97)


def _sql_value(column: Column, dataset: Dataset, day: date, rule: dict, step: int) -> sql.Composable:
    kind, n = column.kind.pandas, sql.SQL(f"(i * {step})")
    low = 0 if rule.get("min") is None else rule["min"]
    high = low + 100 if rule.get("max") is None else rule["max"]
    if column.name == CONTRACT.key:
        first = 1 if rule.get("min") is None else int(rule["min"])
        return (
            sql.SQL(f"i + {first - 1}") if column.type != "text" else sql.SQL("'e' || lpad(i::text, 9, '0')")
        )
    if column.name == dataset.date_column:
        return sql.SQL("{}::date").format(sql.Literal(day.isoformat()))
    if "in" in rule:
        choices = sql.SQL(", ").join(map(sql.Literal, rule["in"]))
        value = sql.SQL("(ARRAY[{}])[1 + {} % {}]").format(choices, n, sql.Literal(len(rule["in"])))
    elif kind == "Int64":
        value = sql.SQL("{} + {} % {}").format(
            sql.Literal(int(low)), n, sql.Literal(int(high) - int(low) + 1)
        )
    elif kind == "Float64":
        value = sql.SQL("round(({} + ({} % 10000) / 10000.0 * {})::numeric, 2)::float8").format(
            sql.Literal(low), n, sql.Literal(high - low)
        )
    elif kind == "boolean":
        value = sql.SQL("{} % 2 = 0").format(n)
    elif kind == "string":
        value = sql.SQL("{} || ({} % 4)").format(sql.Literal(f"{column.name}_"), n)
    elif kind.startswith("datetime64[us, UTC"):
        value = sql.SQL("{}::timestamptz + ({} % 86400) * interval '1 second'").format(
            sql.Literal(f"{day.isoformat()} 00:00:00+00"), n
        )
    else:
        value = sql.SQL("{}::date - ({} % 365)").format(sql.Literal(day.isoformat()), n)
    if column.nullable:
        value = sql.SQL("CASE WHEN i % 997 = 0 THEN NULL ELSE {} END").format(value)
    return value


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


def capped(entities: int) -> int:
    """`entities`, or fewer when the business rules bound the key's range (model/expectations.py):
    a partition that must pass validation holds no more entities than the key allows (24 hours)."""
    rule = business_rules().get(CONTRACT.key, {})
    if rule.get("min") is None or rule.get("max") is None:
        return entities
    return min(entities, int(rule["max"]) - int(rule["min"]) + 1)


def _keys(column: Column, n: int, rule: dict) -> pd.Series:
    if column.type == "text":
        return pd.Series([f"e{i:07d}" for i in range(1, n + 1)])
    first = 1 if rule.get("min") is None else int(rule["min"])
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
