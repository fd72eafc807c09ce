"""A first pass through the stages without Airflow: extract -> validate -> train -> predict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.demo_data import seed_source
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.scoring import predict
from {{ cookiecutter.project }}.training import promote, stage_window, train
from {{ cookiecutter.project }}.validation import validate

FIRST = date(2025, 3, 3)


def test_stages_run_in_order_and_rerun_replaces(settings, sql):
    settings = replace(settings, training_window_days=10)
    seed_source(settings, FIRST, scored_days=2, history_days=10, entities=300)
    retrain = Interval.day(FIRST - timedelta(days=1))
    staged = stage_window(settings, retrain, "r1")
    assert staged["staged"] >= 2 and staged["rejected"] == []
    trained = train(settings, retrain, "r1")
    assert promote(settings, trained, "r1")["promoted"] is True

    day = Interval.day(FIRST)
    assert extract(settings, CUSTOMER_SNAPSHOTS, day, "d1") == 300
    assert validate(settings, day, "d1").success
    assert predict(settings, day, "d1") == 300
    assert predict(settings, day, "d2") == 300  # rerun replaces, never appends
    assert sql("SELECT count(*), min(run_id), max(model_version) FROM predictions") == [
        (300, "d2", trained["version"])
    ]
