"""`make promote-dry-run`: the gate's decision for the latest candidate, and nothing written."""

from __future__ import annotations

import datetime as dt

from conftest import SCORED_FROM

from {{ cookiecutter.project }} import promotion, training
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.model import metrics
from {{ cookiecutter.project }}.warehouse import fetch_all

EVERYTHING = """SELECT (SELECT json_agg(v ORDER BY version) FROM model_versions v),
                       (SELECT json_agg(p ORDER BY id) FROM model_promotions p)"""


def test_the_dry_run_says_what_the_gate_would_do_and_changes_nothing(scored, capsys):
    settings, days, _ = scored
    later = Interval.day(days[-1])  # a window ending later: a new candidate, not yet decided
    candidate = training.train(settings, later, "candidate")
    before = fetch_all(settings, EVERYTHING)

    decision = promotion.dry_run(settings)

    assert decision["candidate"] == candidate["version"] != decision["champion"]
    assert (decision["promote"], decision["reason"]) == metrics.gate(
        candidate["metrics"], candidate["champion_metrics"]
    )
    assert fetch_all(settings, EVERYTHING) == before
    assert decision["window"][1] == days[-1] + dt.timedelta(days=1) and SCORED_FROM in days


def test_a_search_space_is_searched_and_its_results_reach_the_report(scored, monkeypatch):
    """model/estimator.py's SEARCH_SPACE, here over one of the estimator's own float settings."""
    from {{ cookiecutter.project }} import reports
    from {{ cookiecutter.project }}.model import estimator

    settings, days, _ = scored
    name, value = next(
        (k, v) for k, v in estimator.build_estimator().get_params().items() if type(v) is float and v > 0
    )
    monkeypatch.setattr(estimator, "SEARCH_SPACE", {name: [value, value * 2]})
    trained = training.train(settings, Interval.day(days[-2]), "tuned")

    ((tuning,),) = fetch_all(
        settings, "SELECT tuning FROM model_versions WHERE version = %s", (trained["version"],)
    )
    assert set(tuning["best_params"]) == {name} and len(tuning["tried"]) >= 2
    ((start, end),) = fetch_all(
        settings,
        "SELECT train_start, train_end FROM model_versions WHERE version = %s",
        (trained["version"],),
    )
    with reports.kernel_settings(settings):  # what the report's kernel is given
        shown = reports.evidence(trained["version"], None, str(start), str(end))
    assert shown.tuning == tuning and metrics.PRIMARY in shown.metrics.index
