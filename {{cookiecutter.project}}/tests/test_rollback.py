"""Rolling the champion back: the previous model returns, and the audit log says so."""

from __future__ import annotations

from datetime import date

import pytest
from sklearn.dummy import DummyRegressor

from {{ cookiecutter.project }} import registry
from {{ cookiecutter.project }}.registry import ModelUnavailable


def register(settings, constant: float, day: int) -> str:
    """Register and promote a distinct (tiny) model; returns its version."""
    model = DummyRegressor(strategy="constant", constant=constant).fit([[0]], [0])
    version = registry.register(
        settings, model, {"score": constant}, date(2025, 1, 1), date(2025, 1, day), 1, "t"
    )
    registry.decide(settings, version.version, True, "test", "t")
    return version.version


def test_rollback_restores_previous_champion_and_is_audited(settings, sql):
    first = register(settings, 1.0, 10)
    second = register(settings, 2.0, 17)
    assert registry.champion(settings).version == second

    assert registry.rollback(settings, "bad scores on Monday", "manual__ops") == first
    assert registry.champion(settings).version == first
    assert sql("SELECT status FROM model_versions WHERE version = %s", (second,)) == [("retired",)]
    assert sql(
        "SELECT action, version, previous, reason FROM champion_history ORDER BY decided_at DESC LIMIT 1"
    ) == [("rollback", first, second, "bad scores on Monday")]


def test_rollback_to_a_named_version(settings):
    first = register(settings, 1.0, 10)
    register(settings, 2.0, 17)
    register(settings, 3.0, 24)
    assert registry.rollback(settings, "pin", "t", to_version=first) == first
    assert registry.champion(settings).version == first


def test_rollback_with_nothing_before_is_refused(settings, sql):
    only = register(settings, 1.0, 10)
    with pytest.raises(ModelUnavailable, match="nothing to roll back to"):
        registry.rollback(settings, "oops", "t")
    with pytest.raises(ModelUnavailable, match="already the champion"):
        registry.rollback(settings, "oops", "t", to_version=only)
    assert registry.champion(settings).version == only
    assert sql("SELECT count(*) FROM model_promotions WHERE action = 'rollback'") == [(0,)]


def test_unknown_version_is_refused(settings):
    register(settings, 1.0, 10)
    with pytest.raises(ModelUnavailable, match="name a registered version"):
        registry.rollback(settings, "oops", "t", to_version="nope")
