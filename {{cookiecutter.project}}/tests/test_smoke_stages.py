"""A first pass through the stages without Airflow: extract -> validate -> train -> predict."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from conftest import FEATURES, seed, training_plan

from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.scoring import predict
from {{ cookiecutter.project }}.training import promote, stage_window, train
from {{ cookiecutter.project }}.validation import validate

FIRST = date(2025, 3, 3)
WINDOW_DAYS, ENTITIES = training_plan()


def test_stages_run_in_order_and_rerun_replaces(settings, sql):
    settings = replace(settings, training_window_days=WINDOW_DAYS)
    seed(settings, [FIRST + timedelta(days=n) for n in range(-WINDOW_DAYS, 2)], ENTITIES)
    retrain = Interval.day(FIRST - timedelta(days=1))
    staged = stage_window(settings, retrain, "r1")
    assert staged["staged"] >= 2 and staged["rejected"] == []
    trained = train(settings, retrain, "r1")
    assert promote(settings, trained, "r1")["promoted"] is True

    day = Interval.day(FIRST)
    assert extract(settings, FEATURES, day, "d1") == ENTITIES
    assert validate(settings, day, "d1").success
    assert predict(settings, day, "d1") == ENTITIES
    assert predict(settings, day, "d2") == ENTITIES  # rerun replaces, never appends
    assert sql("SELECT count(*), min(run_id), max(model_version) FROM predictions") == [
        (ENTITIES, "d2", trained["version"])
    ]
