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
