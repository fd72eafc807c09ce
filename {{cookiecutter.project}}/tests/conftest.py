"""Shared fixtures: a real PostgreSQL (embedded unless WAREHOUSE_URL is set),
settings that give each test its own schemas and state folder, and a throwaway
Airflow home for the tests that load or run the DAGs."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from functools import partial
from pathlib import Path

import pytest

from {{ cookiecutter.project }}.config import PROJECT_ROOT, SOURCE_KIND, Settings
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate
from {{ cookiecutter.project }}.warehouse.connection import embedded_server

_AIRFLOW_STATE = pytest.StashKey[Path]()
_SAVED_ENV = pytest.StashKey[dict]()
# Inherited settings that would point the tests at a real Airflow (a developer's
# ~/airflow, or a production metadata database): dropped for the session.
_INHERITED = (
    "AIRFLOW_HOME",
    "AIRFLOW_CONFIG",
    "AIRFLOW__CORE__DAGS_FOLDER",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__LOAD_EXAMPLES",
    "AIRFLOW__LOGGING__LOGGING_LEVEL",
)


def pytest_configure(config):
    """Point Airflow at a temporary home for the whole session, before anything imports it.

    Airflow reads AIRFLOW_HOME and its configuration once, when `airflow` is first
    imported, so a fixture would be too late (a test module importing airflow at
    collection would already have fixed the developer's ~/airflow) and monkeypatch
    would be undone between tests while Airflow keeps the first value. The variables
    are those `local_airflow.configure` sets for a state_dir; the metadata database
    is created only when a test asks for `airflow_home`, so unit-test runs stay fast.
    """
    state = Path(tempfile.mkdtemp(prefix="pytest-airflow-"))
    config.stash[_AIRFLOW_STATE] = state
    config.stash[_SAVED_ENV] = {k: os.environ.pop(k) for k in _INHERITED if k in os.environ}
    # Airflow's in-process API client (dag.test) imports starlette's deprecated TestClient.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")
    os.environ.update(
        {
            "AIRFLOW_HOME": str(state / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )


def pytest_unconfigure(config):
    state = config.stash.get(_AIRFLOW_STATE, None)
    if state is None:
        return
    for key in _INHERITED:
        os.environ.pop(key, None)
    os.environ.update(config.stash[_SAVED_ENV])
    shutil.rmtree(state, ignore_errors=True)


@pytest.fixture(scope="session")
def airflow_home(pytestconfig) -> Path:
    """Airflow configured by `local_airflow.configure`, with its SQLite metadata migrated once."""
    from {{ cookiecutter.project }}.local_airflow import configure

    state = pytestconfig.stash[_AIRFLOW_STATE]
    configure(Settings.from_env({"STATE_DIR": str(state)}))
    home = state / "airflow"
    assert os.environ["AIRFLOW_HOME"] == str(home), "AIRFLOW_HOME changed after pytest_configure"
    return home


@pytest.fixture(scope="session")
def warehouse_url() -> str:
    if os.environ.get("WAREHOUSE_URL"):
        yield os.environ["WAREHOUSE_URL"]
        return
    # Not under pytest's basetemp: run as root, pgserver runs PostgreSQL as another
    # user, and any pytest starting meanwhile makes /tmp/pytest-of-root private
    # again (0700), which locks that user out (initdb fails at random).
    root = Path(tempfile.mkdtemp(prefix="pytest-pg-"))
    server = embedded_server(root / "pgdata", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def settings(warehouse_url, tmp_path, fake_s3) -> Settings:
    """Migrated settings in fresh schemas: tests never see each other's rows."""
    suffix = uuid.uuid4().hex[:10]
    base = Settings.from_env({"STATE_DIR": str(tmp_path), "WAREHOUSE_URL": warehouse_url})
    current = replace(base, schema=f"t_{suffix}", source_schema=f"src_{suffix}", chunk_rows=1000)
    migrate(current)
    return current


@pytest.fixture
def sql(settings):
    """Run one statement in the project's schema and return all rows."""
    return partial(fetch_all, settings)


@pytest.fixture(scope="module")
def fake_s3():
    """s3 projects: moto's S3 for the test module, with the source bucket; fake credentials
    and no inherited profile or endpoint, so no test reaches AWS. Other projects: nothing.

    Module-scoped for the end-to-end scenario. Not autouse: moto applies a mock_aws's
    options only when no other is active, and tests/test_infra.py starts its own.
    """
    if SOURCE_KIND != "s3":
        yield
        return
    from moto import mock_aws

    from {{ cookiecutter.project }}.sources import open_source

    with pytest.MonkeyPatch.context() as env, mock_aws():
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL",
                     "AWS_ENDPOINT_URL_S3", "SOURCE_S3_URI"):  # fmt: skip
            env.delenv(name, raising=False)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_CONFIG_FILE", os.devnull)  # a profile there may name an endpoint
        env.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        open_source(Settings.from_env({})).create_bucket()
        yield
