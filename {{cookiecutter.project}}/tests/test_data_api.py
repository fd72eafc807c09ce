"""The data API (data.py): read-only frames in the contract's types, read as the pipeline reads."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import psycopg2
import pytest
from conftest import FEATURES, KEY, LABELS, SCORED_FROM

from {{ cookiecutter.project }} import data, training
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.warehouse import transaction


def test_partition_dates_are_the_staged_ones(scored):
    settings, days, _ = scored
    dates = data.partition_dates("features", settings)
    assert set(days) <= set(dates) and dates == sorted(dates)


@pytest.mark.parametrize("name", ["features", "labels"])
def test_a_partition_comes_back_in_the_contracts_types(scored, name):
    settings, days, entities = scored
    frame = data.load_partition(name, days[0], settings)
    dataset = {"features": FEATURES, "labels": LABELS}[name]
    assert list(frame.columns) == ["data_date", *dataset.names]
    assert {c: str(t) for c, t in frame.dtypes.items()} == {"data_date": "datetime64[us]", **dataset.dtypes}
    assert len(frame) == entities and (frame["data_date"] == pd.Timestamp(days[0])).all()


def test_a_range_is_half_open_and_ordered(scored):
    settings, days, entities = scored
    frame = data.load_range(FEATURES.name, days[0], days[-1], settings)  # by the dataset's own name too
    assert sorted(frame["data_date"].dt.date.unique()) == days[:-1]
    assert frame[["data_date", KEY]].equals(frame[["data_date", KEY]].sort_values(["data_date", KEY]))


def test_the_training_frame_is_what_training_fits_on(scored):
    settings, days, _ = scored
    start, end = SCORED_FROM - dt.timedelta(days=4), days[-1]
    expected = training.load_window(settings, start, end)
    got = data.load_training_frame(start, end, settings)
    pd.testing.assert_frame_equal(got, expected)
    assert CONTRACT.label in got and len(got) > 0


def test_predictions_carry_their_model_version(scored):
    settings, days, entities = scored
    frame = data.load_predictions(days[0], days[-1] + dt.timedelta(days=1), settings)
    assert len(frame) == entities * len(days)
    assert frame["model_version"].nunique() == 1 and str(frame["predicted_at"].dtype) == "datetime64[us, UTC]"


def test_an_unknown_dataset_is_named():
    with pytest.raises(KeyError, match="no dataset 'nope'"):
        data.dataset("nope")


def test_reads_are_read_only(scored):
    settings, _, _ = scored
    with pytest.raises(psycopg2.errors.ReadOnlySqlTransaction), transaction(settings, read_only=True) as conn:
        with conn.cursor() as cur:
            cur.execute("DELETE FROM predictions")
