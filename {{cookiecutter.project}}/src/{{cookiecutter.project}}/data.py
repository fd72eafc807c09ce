"""The data API: the warehouse's data as pandas frames, for notebooks and analyses.

    from {{ cookiecutter.project }}.data import load_range, partition_dates
    features = load_range("features", date(2025, 3, 1), date(2025, 3, 8))
    days = partition_dates("features")

Every read goes through the pipeline's own path (the warehouse connection and COPY)
in a read-only transaction, and comes back with the data contract's types
(model/contract.py), exactly as training and scoring see the data. Date ranges are
half-open, [start, end), like the pipeline's data intervals. A dataset is named by
its role ("features", "labels") or by its name in the contract.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
from psycopg2 import sql

from . import staging, training
from .config import Settings
from .datasets import Dataset
from .model.contract import CONTRACT
from .warehouse import read_frame, transaction

_PREDICTIONS = {"data_date": "datetime64[us]", "score": "Float64", "predicted_at": "datetime64[us, UTC]"}


def dataset(name: str) -> Dataset:
    """The contract's dataset for a role ("features", "labels") or a dataset name."""
    roles = {"features": CONTRACT.features, "labels": CONTRACT.labels}
    found = roles.get(name) or CONTRACT.datasets.get(name)
    if found is None:
        raise KeyError(f"no dataset {name!r}: use 'features', 'labels' or one of {sorted(CONTRACT.datasets)}")
    return found


def partition_dates(name: str, settings: Settings | None = None) -> list[date]:
    """The dates of the dataset's staged partitions, oldest first (not those retention dropped)."""
    query = (
        "SELECT data_date FROM staging_batches WHERE dataset = %s AND pruned_at IS NULL ORDER BY data_date"
    )
    with transaction(settings or Settings.from_env(), read_only=True) as conn, conn.cursor() as cur:
        cur.execute(query, (dataset(name).name,))
        return [row[0] for row in cur.fetchall()]


def load_partition(name: str, day: date, settings: Settings | None = None) -> pd.DataFrame:
    """The staged partition of `day`: the rows extracted for the data interval starting that day."""
    return load_range(name, day, date.fromordinal(day.toordinal() + 1), settings)


def load_range(name: str, start: date, end: date, settings: Settings | None = None) -> pd.DataFrame:
    """Every staged row with start <= data_date < end, ordered by date and key."""
    chosen = dataset(name)
    query = sql.SQL(
        "SELECT * FROM {} WHERE data_date >= %s AND data_date < %s ORDER BY data_date, {}"
    ).format(sql.Identifier(chosen.table), sql.Identifier(CONTRACT.key))
    with transaction(settings or Settings.from_env(), read_only=True) as conn:
        return staging.read(conn, query, (start, end), chosen.dtypes)


def load_training_frame(start: date, end: date, settings: Settings | None = None) -> pd.DataFrame:
    """The labels observed in [start, end) joined to the validated features rows they label,
    exactly as a retrain whose window is [start, end) fits and evaluates on."""
    return training.load_window(settings or Settings.from_env(), start, end)


def load_predictions(start: date, end: date, settings: Settings | None = None) -> pd.DataFrame:
    """The predictions with start <= data_date < end, with the model version that made each."""
    query = "SELECT * FROM predictions WHERE data_date >= %s AND data_date < %s ORDER BY data_date, entity_id"
    key = {"entity_id": CONTRACT.features.column(CONTRACT.key).kind.pandas}
    with transaction(settings or Settings.from_env(), read_only=True) as conn:
        return read_frame(conn, query, (start, end), dtypes={**_PREDICTIONS, **key})
