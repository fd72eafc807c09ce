"""The model registry on a real PostgreSQL: versions, checksummed artifacts, the champion alias."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg2
import pytest

from {{ cookiecutter.project }} import model, registry
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.model.estimator import build_estimator
from {{ cookiecutter.project }}.model.features import build_features
from {{ cookiecutter.project }}.registry import ModelUnavailable
from {{ cookiecutter.project }}.synthetic import labelled

FIRST = date(2025, 2, 3)
ENTITIES = 300


def labelled_days(days: range) -> pd.DataFrame:
    return labelled([FIRST + timedelta(days=offset) for offset in days], ENTITIES)


def fit(days: range):
    data = labelled_days(days)
    return build_estimator().fit(build_features(data), data[CONTRACT.label].to_numpy(dtype=float))


@pytest.fixture(scope="module")
def holdout() -> pd.DataFrame:
    return build_features(labelled_days(range(10, 11)))


@pytest.fixture(scope="module")
def estimators():
    """Two different models: fitted on different days."""
    return fit(range(0, 3)), fit(range(3, 6))


def register(settings, estimator, run_id="run-1", end=FIRST, score=0.7):
    return registry.register(
        settings, estimator, {"roc_auc": score, "rows": 100}, end - timedelta(days=7), end, 100, run_id
    )


def versions(sql) -> dict:
    return dict(sql("SELECT version, status FROM model_versions"))


def promotions(sql) -> list:
    return sql("SELECT version, previous, action, reason, run_id FROM model_promotions ORDER BY id")


def test_register_then_load_gives_the_same_model(settings, sql, estimators, holdout):
    estimator = estimators[0]
    version = register(settings, estimator)

    assert re.fullmatch(r"[0-9a-f]{64}", version.sha256)
    assert version.version == f"{FIRST:%Y%m%d}-{version.sha256[:10]}"
    artifact = Path(version.artifact_uri)
    assert artifact.is_file() and Path(settings.artifacts_uri) in artifact.parents
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == version.sha256
    row = sql(
        "SELECT status, sha256, artifact_uri, metrics, train_start, train_end, run_id FROM model_versions"
    )
    assert row == [
        (
            "candidate",
            version.sha256,
            version.artifact_uri,
            {"roc_auc": 0.7, "rows": 100},
            FIRST - timedelta(days=7),
            FIRST,
            "run-1",
        )
    ]
    assert registry.champion(settings) is None  # registered is not promoted

    loaded = registry.load(settings, version)
    assert type(loaded) is type(estimator)
    np.testing.assert_array_equal(model.predict(loaded, holdout), model.predict(estimator, holdout))


def test_registering_the_same_model_again_is_a_no_op(settings, sql, estimators):
    first = register(settings, estimators[0], run_id="run-1")
    again = register(settings, estimators[0], run_id="run-2")
    refit = register(settings, fit(range(0, 3)), run_id="run-3")  # a rerun of the same training

    assert again.version == refit.version == first.version
    assert sql("SELECT count(*), min(run_id) FROM model_versions") == [(1, "run-1")]
    other = register(settings, estimators[1], run_id="run-4")
    assert other.version != first.version
    assert sql("SELECT count(*) FROM model_versions") == [(2,)]


def test_corrupt_artifact_is_refused_naming_the_version(settings, estimators):
    version = register(settings, estimators[0])
    artifact = Path(version.artifact_uri)
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    artifact.write_bytes(bytes(data))

    with pytest.raises(ModelUnavailable) as failure:
        registry.load(settings, version)
    assert version.version in str(failure.value) and "corrupt" in str(failure.value)


def test_missing_artifact_is_refused_naming_the_version(settings, estimators):
    version = register(settings, estimators[0])
    Path(version.artifact_uri).unlink()

    with pytest.raises(ModelUnavailable) as failure:
        registry.load(settings, version)
    assert version.version in str(failure.value) and version.artifact_uri in str(failure.value)


def test_an_artifact_outside_artifacts_uri_is_never_read(settings, estimators, tmp_path):
    """Whoever can write model_versions must not point the pipeline at another pickle."""
    version = register(settings, estimators[0])
    elsewhere = tmp_path / "elsewhere" / "model.joblib"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(Path(version.artifact_uri).read_bytes())  # even with the right sha256

    for uri in (str(elsewhere), f"{settings.artifacts_uri}/../elsewhere/model.joblib"):
        with pytest.raises(ModelUnavailable, match="not under ARTIFACTS_URI"):
            registry.load(settings, replace(version, artifact_uri=uri))


def test_promotion_retires_the_old_champion_and_is_recorded(settings, sql, estimators):
    old = register(settings, estimators[0], run_id="train-1")
    registry.decide(settings, old.version, True, "first model", "train-1")
    assert registry.champion(settings).version == old.version

    new = register(settings, estimators[1], run_id="train-2", end=FIRST + timedelta(days=7))
    registry.decide(settings, new.version, True, "better", "train-2")

    assert versions(sql) == {old.version: "retired", new.version: "champion"}
    assert registry.champion(settings) == new
    assert promotions(sql) == [
        (old.version, None, "promote", "first model", "train-1"),
        (new.version, old.version, "promote", "better", "train-2"),
    ]


def test_rejection_keeps_the_champion_and_is_recorded(settings, sql, estimators):
    champion = register(settings, estimators[0])
    registry.decide(settings, champion.version, True, "first model", "train-1")
    challenger = register(settings, estimators[1], end=FIRST + timedelta(days=7))
    registry.decide(settings, challenger.version, False, "worse", "train-2")

    assert versions(sql) == {champion.version: "champion", challenger.version: "rejected"}
    assert promotions(sql)[-1] == (challenger.version, champion.version, "reject", "worse", "train-2")


def test_promotion_is_one_transaction(settings, sql, estimators):
    """If recording the decision fails, the old champion is not retired either."""
    old = register(settings, estimators[0])
    registry.decide(settings, old.version, True, "first model", "train-1")
    new = register(settings, estimators[1], end=FIRST + timedelta(days=7))
    sql("""CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN RAISE EXCEPTION 'audit log unavailable'; END $$;
           CREATE TRIGGER refuse BEFORE INSERT ON model_promotions FOR EACH ROW EXECUTE FUNCTION refuse();""")

    with pytest.raises(psycopg2.Error, match="audit log unavailable"):
        registry.decide(settings, new.version, True, "better", "train-2")

    assert versions(sql) == {old.version: "champion", new.version: "candidate"}
    assert len(promotions(sql)) == 1


def test_at_most_one_champion(settings, sql, estimators):
    first = register(settings, estimators[0])
    second = register(settings, estimators[1], end=FIRST + timedelta(days=7))
    registry.decide(settings, first.version, True, "first model", "train-1")

    with pytest.raises(psycopg2.errors.UniqueViolation):
        sql("UPDATE model_versions SET status = 'champion' WHERE version = %s", (second.version,))
    assert versions(sql) == {first.version: "champion", second.version: "candidate"}
