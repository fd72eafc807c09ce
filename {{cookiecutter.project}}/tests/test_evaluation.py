"""`make evaluate`: the model on the frozen sample holds its committed baseline; a trivial one fails."""

from __future__ import annotations

import json

import pytest

from {{ cookiecutter.project }} import evaluation
from {{ cookiecutter.project }}.model import KIND, estimator, metrics


def test_the_model_holds_its_committed_baseline(capsys):
    assert evaluation.main([]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert f"{metrics.PRIMARY}" in out and "PASS" in out


def test_a_trivial_estimator_fails_naming_metric_baseline_and_tolerance(monkeypatch, capsys):
    from sklearn.dummy import DummyClassifier, DummyRegressor

    trivial = (
        DummyClassifier(strategy="prior") if KIND == "classification" else DummyRegressor(strategy="mean")
    )
    monkeypatch.setattr(estimator, "build_estimator", lambda: trivial)
    monkeypatch.setattr(estimator, "SEARCH_SPACE", {})  # nothing to tune
    assert evaluation.main([]) == 1
    out = capsys.readouterr().out
    baseline = json.loads(evaluation.BASELINE.read_text())[metrics.PRIMARY]
    line = next(line for line in out.splitlines() if line.startswith(metrics.PRIMARY))
    assert (
        f"{baseline:.4f}" in line
        and f"{metrics.TOLERANCE[metrics.PRIMARY]:.4f}" in line
        and "REGRESSION" in line
    )
    assert "FAIL" in out


def test_update_rewrites_the_baseline(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(evaluation, "BASELINE", tmp_path / "baseline.json")
    assert evaluation.main(["--update"]) == 0
    written = json.loads((tmp_path / "baseline.json").read_text())
    assert written == pytest.approx(evaluation.evaluate())
