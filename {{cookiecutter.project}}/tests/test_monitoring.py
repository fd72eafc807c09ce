"""Monitoring (monitoring.py): batch health before scoring, drift and performance after.

The thresholds come from the data scientists' model/monitoring.py; the breaches are
made here from the contract's synthetic rows, so the tests hold for any contract.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from conftest import FEATURES, capped, column_of, plain_columns, publish

from {{ cookiecutter.project }} import monitoring
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.model import metrics
from {{ cookiecutter.project }}.model import monitoring as policy
from {{ cookiecutter.project }}.synthetic import features

FIRST = dt.date(2025, 3, 3)


# --------------------------------------------------------------------------- PSI (no database)


def test_psi_is_zero_for_the_reference_itself_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(0, 1, 5000), "c": rng.choice(["a", "b", "c"], 5000)})
    (numeric, categorical) = monitoring.reference(X)
    assert (numeric["kind"], categorical["kind"]) == ("numeric", "categorical")
    assert monitoring.psi(
        numeric["shares"], monitoring.shares("numeric", numeric["bins"], X["x"])
    ) == pytest.approx(0)
    shifted = monitoring.shares("numeric", numeric["bins"], pd.Series(rng.normal(1, 1, 5000)))
    assert monitoring.psi(numeric["shares"], shifted) > 0.25
    only_a = monitoring.shares("categorical", categorical["bins"], pd.Series(["a"] * 100 + [None] * 10))
    assert monitoring.psi(categorical["shares"], only_a) > 1


def test_missing_values_and_new_categories_have_bins_of_their_own():
    (entry,) = monitoring.reference(pd.DataFrame({"c": ["a", "b", None, "a"]}))
    assert entry["shares"] == [0.5, 0.25, 0.0, 0.25]  # a, b, other, missing
    assert monitoring.shares("categorical", entry["bins"], pd.Series(["z", "a"])) == [0.5, 0.0, 0.5, 0.0]


# --------------------------------------------------------------------------- batch health


@pytest.fixture
def history(settings):
    """A week of clean partitions, extracted; each with `n` entities."""
    n = capped(200) // 10 or 1
    for offset in range(-7, 0):
        day = FIRST + dt.timedelta(days=offset)
        publish(settings, day, features(day, n))
        extract(settings, FEATURES, Interval.day(day), "history")
    return n


def check(settings, frame: pd.DataFrame, day: dt.date = FIRST):
    publish(settings, day, frame)
    extract(settings, FEATURES, Interval.day(day), "check")
    return monitoring.check_batch(settings, Interval.day(day), "check")


def recorded(sql, day: dt.date = FIRST):
    return sql(
        "SELECT row_count, identical_to_previous, stuck_columns, breaches FROM batch_health WHERE data_date = %s",
        (day,),
    )


def test_a_clean_batch_is_healthy_and_recorded(settings, sql, history):
    health = check(settings, features(FIRST, history))
    assert health["breaches"] == [] and health["rows_vs_trailing_median"] == 1
    assert recorded(sql) == [(history, False, [], [])]


def test_a_batch_ten_times_the_usual_is_stopped(settings, sql, history):
    bigger = history * 10
    if capped(bigger) < bigger:
        pytest.skip("the key's range allows no batch ten times the history's")
    with pytest.raises(monitoring.BatchUnhealthy, match="10.00 times the trailing median row count"):
        check(settings, features(FIRST, bigger))
    assert recorded(sql)[0][0] == bigger


def test_the_previous_days_rows_sent_again_are_stopped(settings, sql, history):
    again = features(FIRST - dt.timedelta(days=1), history)
    if FEATURES.date_column:
        again[FEATURES.date_column] = pd.Timestamp(FIRST)  # re-sent under this day's date
    with pytest.raises(
        monitoring.BatchUnhealthy, match=f"the same rows as {FIRST - dt.timedelta(days=1)}: a re-delivery"
    ):
        check(settings, again)
    assert recorded(sql)[0][1] is True


def test_a_column_stuck_at_one_value_is_stopped(settings, sql, history):
    stuck = [c for c in plain_columns() if c not in policy.CONSTANT_COLUMNS]
    if not stuck:
        pytest.skip("every plain column may be constant (model/monitoring.py CONSTANT_COLUMNS)")
    frame = features(FIRST, history)
    frame[stuck[0]] = frame[stuck[0]].iloc[0]
    with pytest.raises(monitoring.BatchUnhealthy, match=f"one value all day in {stuck[0]}"):
        check(settings, frame)
    assert recorded(sql)[0][2] == [stuck[0]]


def test_a_breach_set_to_log_is_recorded_and_does_not_stop_the_run(settings, sql, history, monkeypatch):
    monkeypatch.setattr(policy, "ON_BATCH_BREACH", "log")
    again = features(FIRST - dt.timedelta(days=1), history)
    if FEATURES.date_column:
        again[FEATURES.date_column] = pd.Timestamp(FIRST)
    assert check(settings, again)["breaches"] == [
        f"the same rows as {FIRST - dt.timedelta(days=1)}: a re-delivery"
    ]


# --------------------------------------------------------------------------- drift and performance


def test_each_scored_date_has_drift_rows_against_its_versions_reference(scored, monkeypatch):
    settings, days, _ = scored
    from {{ cookiecutter.project }}.warehouse import fetch_all

    rows = fetch_all(
        settings,
        "SELECT data_date, count(*), count(DISTINCT reference_version), bool_or(breached) FROM feature_drift GROUP BY 1 ORDER BY 1",
    )
    features_used = fetch_all(settings, "SELECT count(*) FROM feature_reference")[0][0]
    assert [(d, n, v) for d, n, v, _ in rows] == [(day, features_used, 1) for day in days]
    assert features_used > 0


def test_a_shifted_feature_is_a_drift_breach_unless_exempt(scored, monkeypatch):
    settings, days, _ = scored
    from {{ cookiecutter.project }}.scoring import predict
    from {{ cookiecutter.project }}.validation import validate
    from {{ cookiecutter.project }}.warehouse import fetch_all

    column = column_of("Float64", "Int64")
    day = days[-1] + dt.timedelta(days=1)
    frame = features(day, capped(200))
    frame[column] = frame[column].max()  # every row at the top of the range: far from the reference
    publish(settings, day, frame)
    extract(settings, FEATURES, Interval.day(day), "shifted")
    validate(settings, Interval.day(day), "shifted")
    predict(settings, Interval.day(day), "shifted")
    result = monitoring.monitor_drift(settings, Interval.day(day), "shifted")
    assert result["breached"], result
    assert monitoring.retrain_requested(settings, Interval.day(day), "shifted") is (
        policy.ON_MODEL_BREACH == "retrain"
    )
    assert (
        fetch_all(settings, "SELECT count(*) FROM feature_drift WHERE data_date = %s AND breached", (day,))[
            0
        ][0]
        >= 1
    )
    monkeypatch.setattr(policy, "DRIFT_EXEMPT", [*policy.DRIFT_EXEMPT, *result["breached"]])
    assert monitoring.monitor_drift(settings, Interval.day(day), "shifted")["breached"] == []
    recorded = "SELECT bool_or(breached), count(*) > 0 FROM feature_drift WHERE data_date = %s"
    assert fetch_all(settings, recorded, (day,)) == [(False, True)]  # still measured, not breached


def test_performance_is_stored_once_the_labels_arrive(scored):
    settings, days, entities = scored
    from {{ cookiecutter.project }}.warehouse import fetch_all

    rows = fetch_all(
        settings,
        "SELECT data_date, value, rows, model_version FROM model_performance WHERE metric = %s ORDER BY 1",
        (metrics.PRIMARY,),
    )
    assert [(d, n) for d, _, n, _ in rows] == [(day, entities) for day in days]
    assert all(np.isfinite(value) for _, value, _, _ in rows)


def test_a_date_a_failed_run_never_measured_is_caught_up(scored):
    settings, days, _ = scored
    from {{ cookiecutter.project }}.warehouse import fetch_all

    fetch_all(settings, "DELETE FROM model_performance WHERE data_date = %s", (days[0],))
    result = monitoring.track_performance(settings, Interval.day(days[-1]), "catch-up")
    assert days[0].isoformat() in result["dates"]
    assert (
        fetch_all(
            settings,
            "SELECT count(*) FROM model_performance WHERE data_date = %s AND run_id = 'catch-up'",
            (days[0],),
        )[0][0]
        > 0
    )
