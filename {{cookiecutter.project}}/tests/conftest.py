"""Shared fixtures: a real PostgreSQL (embedded unless WAREHOUSE_URL is set),
settings that give each test its own schemas, S3 prefix and state folder, and a
throwaway Airflow home for the tests that load or run the DAGs. Then the words the
tests speak about data in: they name no column of any particular dataset, only
roles in the data contract (model/contract.py), and draw their rows from it
(synthetic.py), so they keep passing when the contract changes. At the end, what
the source tests (tests/test_source_*.py) share."""

from __future__ import annotations

import datetime as dt
import itertools
import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.project }} import registry
from {{ cookiecutter.project }}.config import SOURCE_KIND, Settings
from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.local_airflow import airflow_env, configure
from {{ cookiecutter.project }}.model import window
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.model.estimator import build_estimator
from {{ cookiecutter.project }}.model.features import build_features
from {{ cookiecutter.project }}.sources import open_source
from {{ cookiecutter.project }}.synthetic import (
    capped,
    features,
    labelled,
    labels,
    seed_source,
    with_defect,
)
from {{ cookiecutter.project }}.training import held_out_days
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate
from {{ cookiecutter.project }}.warehouse.embedded import embedded_server

_AIRFLOW_STATE = pytest.StashKey[Path]()
_SAVED_ENV = pytest.StashKey[dict]()
# Inherited settings that would point the tests at a real Airflow (a developer's
# ~/airflow, or a production metadata database): dropped for the session.
_INHERITED = (*airflow_env(Path()), "AIRFLOW_CONFIG", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")


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
    os.environ.update(airflow_env(state))


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


def fresh_settings(warehouse_url: str, state: Path) -> Settings:
    """Migrated settings in fresh schemas and a fresh S3 prefix: tests never see each other's rows."""
    suffix = uuid.uuid4().hex[:10]
    base = Settings.from_env({"STATE_DIR": str(state), "WAREHOUSE_URL": warehouse_url})
    current = replace(
        base,
        schema=f"t_{suffix}",
        source_schema=f"src_{suffix}",
        s3_source_uri=f"{base.s3_source_uri}/t_{suffix}",  # in fake_s3's bucket, for s3 projects
        chunk_rows=1000,
    )
    migrate(current)
    return current


@pytest.fixture
def settings(warehouse_url, tmp_path, fake_s3) -> Settings:
    return fresh_settings(warehouse_url, tmp_path)


@pytest.fixture(scope="module")
def scored(warehouse_url, tmp_path_factory, fake_s3):
    """A module's own warehouse with a champion trained on seeded history, and SCORED_DAYS
    days extracted, validated, checked, scored and monitored as the daily DAG does.
    Returns (settings, the scored days, entities a day)."""
    from {{ cookiecutter.project }} import monitoring
    from {{ cookiecutter.project }}.scoring import predict
    from {{ cookiecutter.project }}.validation import validate

    settings, entities = with_champion(
        fresh_settings(warehouse_url, tmp_path_factory.mktemp("scored")), SCORED_FROM, SCORED_DAYS
    )
    days = [SCORED_FROM + dt.timedelta(days=n) for n in range(SCORED_DAYS)]
    for day in days:
        interval = Interval.day(day)
        extract(settings, FEATURES, interval, f"daily-{day}")
        validate(settings, interval, f"daily-{day}")
        monitoring.check_batch(settings, interval, f"daily-{day}")
        predict(settings, interval, f"daily-{day}")
        monitoring.monitor_drift(settings, interval, f"daily-{day}")
        extract(settings, LABELS, interval, f"daily-{day}")
        monitoring.track_performance(settings, interval, f"daily-{day}")
    return settings, days, entities


def with_champion(settings: Settings, first: dt.date, days: int) -> tuple[Settings, int]:
    """The source seeded with a short training window before `first` and `days` days from it, and
    a champion trained on that window: (`settings` with that window, entities a day)."""
    from {{ cookiecutter.project }}.training import promote, stage_window, train

    window_days, entities = training_plan()
    settings = replace(settings, training_window_days=window_days)
    seed(settings, [first + dt.timedelta(days=n) for n in range(-window_days, days)], entities)
    retrain = Interval.day(first - dt.timedelta(days=1))
    stage_window(settings, retrain, "retrain")
    assert promote(settings, train(settings, retrain, "retrain"), "retrain")["promoted"]
    return settings, entities


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


# --------------------------------------------------------------------------- the data, by role

FEATURES, LABELS, KEY = CONTRACT.features, CONTRACT.labels, CONTRACT.key
SCORED_FROM, SCORED_DAYS = dt.date(2025, 3, 3), 3  # what the `scored` fixture scores


def plain_columns(*dtypes: str) -> list[str]:
    """Features columns that are neither the key nor the date column, of the given pandas dtypes."""
    return [
        c.name
        for c in FEATURES.columns
        if c.name not in (KEY, FEATURES.date_column) and (not dtypes or c.kind.pandas in dtypes)
    ]


def column_of(*dtypes: str) -> str:
    """A features column of one of these pandas dtypes; the test is skipped if the contract has none."""
    found = plain_columns(*dtypes)
    if not found:
        pytest.skip(f"the data contract has no features column of dtype {' or '.join(dtypes)}")
    return found[0]


def champion(settings: Settings, trained_until: dt.date) -> str:
    """Register and promote a model fitted on three days of synthetic labelled rows before
    `trained_until`, without the retrain DAG's staging; returns its version."""
    days = [trained_until - dt.timedelta(days=n) for n in (3, 2, 1)]
    data = labelled(days, capped(200))
    estimator = build_estimator().fit(build_features(data), data[CONTRACT.label].to_numpy(dtype=float))
    version = registry.register(settings, estimator, {}, days[0], trained_until, len(data), "test")
    registry.decide(settings, version.version, True, "a test's champion", "test")
    return version.version


def same_predictions(got: list[tuple], expected: list[tuple], score: int = 2) -> bool:
    """The same rows, with scores (column `score`) equal to the last bits of a double: the rows
    scored in one chunk with a row can change the order in which the model's arithmetic adds up."""
    rest = (
        [row[:score] + row[score + 1 :] for row in got],
        [row[:score] + row[score + 1 :] for row in expected],
    )
    scores = [row[score] for row in got], [row[score] for row in expected]
    return rest[0] == rest[1] and scores[0] == pytest.approx(scores[1], rel=1e-12, abs=1e-12)


def seed(settings: Settings, days: list[dt.date], entities: int, defects: dict | None = None) -> None:
    """Publish synthetic features for each day (with the defect named for it, if any), and the
    labels of each day's features, observed the same day."""
    defects = defects or {}

    def batch(day):
        frame = features(day, entities)
        return with_defect(frame, defects[day]) if day in defects else frame

    seed_source(settings, days, batch, lambda day: labels(day, day, entities))


def training_plan(fit_days: int = 3) -> tuple[int, int]:
    """(window days, entities a day) for a test that trains a model: a short window that keeps
    at least `fit_days` after the data scientists' holdout and holds MIN_ROWS labelled rows
    (model/window.py), with no more entities a day than the key allows."""
    for fit in itertools.count(fit_days):
        days = fit + 1
        while days - held_out_days(days) < fit:
            days += 1
        entities = capped(max(200, -(-window.MIN_ROWS // days) + 20))
        if entities * days >= window.MIN_ROWS:
            return days, entities
    raise AssertionError("unreachable")


# --------------------------------------------------------------------------- the source tests
# tests/test_source_contract.py (every adapter) and tests/test_source_<kind>.py import these
# with `from conftest import ...`: the days they publish, and what a failed extraction must
# leave as it was.

EARLIER, DAY = dt.date(2025, 3, 3), dt.date(2025, 3, 4)


def publish(settings: Settings, day: dt.date, frame: pd.DataFrame) -> None:
    """Write `frame` as the source's features batch of `day`, as the upstream system would."""
    open_source(settings).publish(FEATURES, Interval.day(day), frame)


def warehouse_state(sql) -> dict:
    """Everything an extraction writes, for before / after comparisons."""
    return {
        "rows": sql(f'SELECT * FROM "{FEATURES.table}" ORDER BY data_date, "{KEY}"'),  # noqa: S608
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, data_date"),
    }


def as_text(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """`frame` with `columns` published as text, so that a PostgreSQL source table's columns are
    text and a later batch can hold a value that is not a number; in a CSV file every value
    is text anyway."""
    return frame.astype(dict.fromkeys(columns, "string"))


@pytest.fixture
def staged_days(settings, sql) -> dict:
    """EARLIER and DAY extracted from 20 clean rows each, the numeric columns published as text
    (a later batch may hold a word, or `NaN`, in any of them); the warehouse state."""
    numeric = plain_columns("Int64", "Float64")
    for day in (EARLIER, DAY):
        publish(settings, day, as_text(features(day, entities=20), *numeric))
        assert extract(settings, FEATURES, Interval.day(day), "good") == 20
    return warehouse_state(sql)
