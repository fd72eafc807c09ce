"""The data scientists' contract: what the pipeline needs from `model/`, and what `model/` must not need.

`model/` is worked on in notebooks and owned by data scientists: it must import
nothing from the pipeline (warehouse, registry, Airflow, AWS), and it must give
the pipeline features, an estimator, metrics and a promotion gate that behave.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import FEATURES

from {{ cookiecutter.project }} import model
from {{ cookiecutter.project }}.model import metrics
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.model.estimator import build_estimator
from {{ cookiecutter.project }}.model.features import FEATURES as FEATURES_USED
from {{ cookiecutter.project }}.model.features import build_features
from {{ cookiecutter.project }}.synthetic import labelled

PROJECT = "{{ cookiecutter.project }}"
MODEL_DIR = Path(model.__file__).parent
# What model/ must never import: pipeline and infrastructure code.
FORBIDDEN = (
    "airflow",
    "boto3",
    "botocore",
    "psycopg2",
    "sqlalchemy",
    "alembic",
    "pgserver",
    *(
        f"{PROJECT}.{name}"
        for name in (
            "warehouse",
            "registry",
            "artifacts",
            "sources",
            "extraction",
            "pipeline",
            "scoring",
            "training",
            "local_airflow",
            "config",
        )
    ),
)
FIRST = date(2025, 2, 3)
ENTITIES = 400


def forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def package_of(path: Path) -> str:
    return ".".join([PROJECT, *path.relative_to(MODEL_DIR.parent).parent.parts])


def imported_modules(path: Path, package: str) -> set[str]:
    """Every module a file imports, relative imports resolved against its package."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)  # `from pkg import submodule`
    return found


def test_model_sources_import_nothing_from_the_pipeline():
    files = sorted(MODEL_DIR.rglob("*.py"))
    assert {p.name for p in files} >= {
        "__init__.py",
        "contract.py",
        "expectations.py",
        "features.py",
        "estimator.py",
        "metrics.py",
        "window.py",
    }
    violations = {
        str(p.relative_to(MODEL_DIR)): sorted(filter(forbidden, imported_modules(p, package_of(p))))
        for p in files
    }
    assert {name: bad for name, bad in violations.items() if bad} == {}


def test_the_import_scan_sees_relative_and_absolute_imports(tmp_path):
    """The scan itself must catch what it is for (else the test above passes vacuously)."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from .. import registry\nfrom ..warehouse import connect\nfrom . import features\n"
        "import boto3\nimport numpy\nfrom airflow.sdk import dag\n"
    )
    found = set(filter(forbidden, imported_modules(probe, f"{PROJECT}.model")))
    assert found == {
        "airflow.sdk",
        "airflow.sdk.dag",
        "boto3",
        f"{PROJECT}.registry",
        f"{PROJECT}.warehouse",
        f"{PROJECT}.warehouse.connect",
    }


def test_importing_model_loads_no_pipeline_module():
    code = (
        f"import json, sys\nimport {PROJECT}.model, {PROJECT}.model.features, "
        f"{PROJECT}.model.estimator, {PROJECT}.model.metrics\n"
        "print(json.dumps(sorted(sys.modules)))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert f"{PROJECT}.model.estimator" in loaded
    assert sorted(filter(forbidden, loaded)) == []


def labelled_days(days: range) -> pd.DataFrame:
    return labelled([FIRST + timedelta(days=offset) for offset in days], ENTITIES)


@pytest.fixture(scope="module")
def fitted():
    train, holdout = labelled_days(range(0, 6)), labelled_days(range(6, 8))
    estimator = build_estimator().fit(build_features(train), train[CONTRACT.label].to_numpy(dtype=float))
    return estimator, holdout


def test_features_are_complete_on_clean_data():
    frame = labelled_days(range(0, 1)).drop(columns=[CONTRACT.label])  # as training and scoring read it
    X = build_features(frame)
    assert list(X.columns) == FEATURES_USED
    assert len(X) == ENTITIES and X.index.equals(frame.index)
    nullable = {c.name for c in FEATURES.columns if c.nullable}
    if not nullable:  # NULLs allowed by the contract may stay NULL for an imputer in the estimator
        assert int(X.isna().sum().sum()) == 0
    numeric = X.select_dtypes(include="number")
    assert np.isfinite(numeric.to_numpy(dtype=float, na_value=0.0)).all()


def test_the_search_space_names_settings_the_estimator_has():
    """SEARCH_SPACE (empty: no search) uses the Pipeline's own parameter names."""
    from {{ cookiecutter.project }}.model import estimator

    assert isinstance(estimator.SEARCH_SPACE, dict)
    assert set(estimator.SEARCH_SPACE) <= set(estimator.build_estimator().get_params())


def test_estimator_scores_one_finite_value_per_row(fitted):
    estimator, holdout = fitted
    scores = model.predict(estimator, build_features(holdout))
    assert scores.shape == (len(holdout),)
    assert np.isfinite(scores).all()
    assert np.unique(scores).size > len(holdout) // 10  # a model, not a constant
    if model.KIND == "classification":
        assert ((scores >= 0) & (scores <= 1)).all()


def test_evaluate_reports_the_primary_metric_good_enough_to_promote_and_each_tolerated_one(fitted):
    estimator, holdout = fitted
    y = holdout[CONTRACT.label].to_numpy(dtype=float)
    scores = metrics.evaluate(y, model.predict(estimator, build_features(holdout)))
    assert isinstance(scores[metrics.PRIMARY], float) and np.isfinite(scores[metrics.PRIMARY])
    assert scores[metrics.PRIMARY] >= metrics.MINIMUM, "the demo model would never be promoted"
    json.dumps(scores, allow_nan=False)  # stored as jsonb
    # `make evaluate` holds each metric named in TOLERANCE to its baseline.
    assert metrics.TOLERANCE and set(metrics.TOLERANCE) <= set(scores), metrics.TOLERANCE


def numbers_in(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+\.\d+", text)]


def names(reason: str, value: float) -> bool:
    return any(abs(x - value) < 5e-4 for x in numbers_in(reason))


def test_gate_refuses_below_the_minimum_even_for_the_first_model():
    score = metrics.MINIMUM - 0.01
    ok, reason = metrics.gate({metrics.PRIMARY: score}, None)
    assert ok is False and names(reason, score) and names(reason, metrics.MINIMUM), reason


def test_gate_promotes_the_first_model_above_the_minimum():
    score = metrics.MINIMUM + 0.01
    ok, reason = metrics.gate({metrics.PRIMARY: score}, None)
    assert ok is True and names(reason, score), reason


def test_gate_refuses_a_challenger_worse_than_the_champion_naming_both(fitted):
    # Above the minimum but worse than the champion: refused, and the audit log says by how much.
    champion = {metrics.PRIMARY: metrics.MINIMUM + 0.2}
    challenger = {metrics.PRIMARY: metrics.MINIMUM + 0.1}
    ok, reason = metrics.gate(challenger, champion)
    assert (
        ok is False
        and names(reason, challenger[metrics.PRIMARY])
        and names(reason, champion[metrics.PRIMARY])
    )
    ok, reason = metrics.gate(champion, challenger)  # the other way round: promoted
    assert (
        ok is True and names(reason, challenger[metrics.PRIMARY]) and names(reason, champion[metrics.PRIMARY])
    )

    # Real metrics: the fitted model against its own scores shuffled across rows.
    estimator, holdout = fitted
    y, scores = (
        holdout[CONTRACT.label].to_numpy(dtype=float),
        model.predict(estimator, build_features(holdout)),
    )
    good = metrics.evaluate(y, scores)
    shuffled = metrics.evaluate(y, np.random.default_rng(0).permutation(scores))
    assert metrics.gate(shuffled, good)[0] is False
    assert metrics.gate(shuffled, None)[0] is False  # no skill: not even a first model
    assert metrics.gate(good, shuffled)[0] is True
