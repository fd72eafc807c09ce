"""Each rendered project passes its own checks: `make lint test` inside it.

This is the slow part of the template suite: each case builds the project's own
venv from its constraints.txt (seconds with a warm uv cache) and runs its unit,
DAG-integrity and end-to-end tests on an embedded PostgreSQL through Airflow.
Together the cases cover every source adapter, both model kinds and both executors.
The heavy scenarios run once each: the production topology (marked prod_local, with
its restart test) with Celery, where it kills a worker too, and `make airflow` +
`make backfill` (marked airflow_server) with the LocalExecutor.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import run_make
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
# Not pytest's tmp_path: run as root, the embedded PostgreSQL runs as its own user,
# and every pytest start makes /tmp/pytest-of-<user> private again.
BUILD = TEMPLATE_DIR / "build" / "test"

PROJECT_CHECKS = [  # (answers, which of the project's tests: pytest -m)
    pytest.param(
        {"project_name": "Fraud Alerts"},
        "not prod_local",
        id="fraud_alerts-classification-postgres-local",
    ),
    pytest.param(  # a name that sorts before "boto3": imports are ordered differently
        {
            "project_name": "Ads Bidding",
            "model_kind": "regression",
            "source_kind": "files",
            "executor": "celery",
        },
        "not airflow_server",
        id="ads_bidding-regression-files-celery",
    ),
    pytest.param(  # free-text answers that once broke a project (issue 12)
        {
            "model_kind": "classification",
            "source_kind": "s3",
            "description": "Rocket 🚀 forecasts",
            "author_name": "Data Platform and Machine Learning Team",
        },
        "not prod_local and not airflow_server",
        id="classification-s3-local",
    ),
]


@pytest.mark.parametrize(("answers", "marks"), PROJECT_CHECKS)
def test_generated_project_passes_its_own_checks(request, answers, marks):
    output = BUILD / request.node.callspec.id
    shutil.rmtree(output, ignore_errors=True)
    project = Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context=answers,
            output_dir=str(output),
        )
    )
    marks = {"PYTEST_ADDOPTS": f"-m '{marks}'" if marks else ""}
    out = run_make(project, ["make", "lint", "test", "evaluate"], marks)
    assert " passed" in out
