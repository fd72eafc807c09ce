"""The production topology on this machine, as `make prod-local` runs it (infra/prod_local.py).

Airflow on PostgreSQL metadata, each component the process its systemd unit starts, runs
started through the REST API, results read with SQL. It takes minutes, so it is marked
`prod_local` (deselect with `-m "not prod_local"`), and its restart test also `restart`.
The topology is started once for the module; tests run in file order, the restart last.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import shutil
import signal
import tempfile
from datetime import timedelta
from pathlib import Path

import psycopg2
import pytest
from psycopg2 import errors
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.prod_local


@pytest.fixture(scope="module")
def prod_local():
    """infra.prod_local: infra/ is a folder of the project root, not installed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("infra.prod_local")


@pytest.fixture(scope="module")
def prod(prod_local):
    """The topology after the retrain run and the daily run of FIRST_SCORED, with the logins
    PostgreSQL let in during those runs."""
    # Not under pytest's basetemp: as root, PostgreSQL runs as pgserver's own user (see conftest.py).
    state = Path(tempfile.mkdtemp(prefix="prod-local-"))
    try:
        with prod_local.ProdLocal(state) as prod:
            log_offset = prod.postgres_log.stat().st_size
            prod.retrain_run = prod.retrain()
            prod.daily_run = prod.api.wait_for_run(prod.score(prod_local.FIRST_SCORED), timeout=600)
            connections = importlib.import_module("infra.local_databases").connections
            prod.logins = connections(prod.postgres_log, log_offset)
            yield prod
    finally:
        shutil.rmtree(state, ignore_errors=True)


def prediction_stats(prod, day) -> tuple:
    return prod.analyst_sql(
        """SELECT count(*), count(DISTINCT entity_id), min(run_id), max(run_id) FROM predictions
           WHERE data_date = %s""",
        (day,),
    )[0]


def test_each_component_is_the_process_its_unit_starts(prod, prod_local):
    units = {unit.name: unit for unit in prod_local.project_units(prod.workers, prod_local.local_host)}
    expected = {"airflow-api-server", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer"}
    expected |= {f"airflow-celery-worker@{n}" for n in range(1, prod.workers + 1)}
    assert set(prod.supervisor.services) == set(units) == expected
    for name, service in prod.supervisor.services.items():
        assert service.command == units[name].local_command(ROOT)
        assert len(service.starts) == 1 and service.process.poll() is None, (name, service.exits)


def test_airflow_metadata_is_postgresql_through_both_drivers(prod, prod_local):
    sync_url, async_url = prod.databases.metadata_urls().values()
    drivers = sync_url.split("://")[0], async_url.split("://")[0]
    assert drivers == ("postgresql+psycopg2", "postgresql+asyncpg")
    engine = create_engine(sync_url)
    with engine.connect() as conn:  # tables of `airflow db migrate`, rows of the DAG processor
        dags = conn.execute(text("SELECT dag_id FROM dag ORDER BY dag_id")).scalars().all()
    engine.dispose()
    assert dags == [prod_local.DAILY, prod_local.RETRAIN]

    async def current_user() -> str:
        engine = create_async_engine(async_url)
        async with engine.connect() as conn:
            user = (await conn.execute(text("SELECT current_user"))).scalar()
        await engine.dispose()
        return user

    assert asyncio.run(current_user()) == prod.databases.airflow.user


def test_daily_run_through_the_rest_api_scores_every_entity(prod, prod_local):
    assert prod.retrain_run["state"] == "success"
    assert prod.daily_run["state"] == "success"
    entities, run_id = prod_local.ENTITIES, prod.daily_run["dag_run_id"]
    assert prediction_stats(prod, prod_local.FIRST_SCORED) == (entities, entities, run_id, run_id)


def test_tasks_connect_with_the_writer_login_never_the_master(prod):
    databases = prod.databases
    # What PostgreSQL saw during the runs: the tasks' logins, and the components' for the metadata.
    assert {(c["user"], c["database"]) for c in prod.logins} == {
        (databases.pipeline.user, "warehouse"),
{%- if cookiecutter.source_kind == "postgres" %}
        (databases.pipeline.user, "source"),
{%- endif %}
        (databases.airflow.user, "airflow"),
    }
    # What each unit was given, and every task it runs inherits: no master credentials at all.
    for service in prod.supervisor.services.values():
        assert service.env["WAREHOUSE_URL"] == databases.url(databases.pipeline, "warehouse")
        assert not [key for key, value in service.env.items() if databases.master.password in value]


def test_each_login_reaches_only_its_own_database(prod):
    databases = prod.databases
    for login, database in [
        (databases.pipeline, "airflow"),
        (databases.analyst, "airflow"),
        (databases.airflow, "warehouse"),
    ]:
        with pytest.raises(psycopg2.OperationalError, match="permission denied for database"):
            psycopg2.connect(databases.url(login, database)).close()
    no_password = databases.url(databases.master, "postgres").replace(f":{databases.master.password}@", "@")
    with pytest.raises(psycopg2.OperationalError, match="password"):
        psycopg2.connect(no_password).close()


def test_the_writer_login_cannot_rewrite_history(prod):
    conn = psycopg2.connect(
        prod.databases.url(prod.databases.pipeline, "warehouse"),
        options=f"-c search_path={prod.admin.schema}",
    )
    try:
        for statement in ("UPDATE model_promotions SET reason = 'rewritten'", "DELETE FROM model_versions"):
            with pytest.raises(errors.InsufficientPrivilege), conn.cursor() as cur:
                cur.execute(statement)
            conn.rollback()
    finally:
        conn.close()
{%- if cookiecutter.executor == "celery" %}


def test_the_daily_run_spreads_over_both_workers(prod):
    tis = sorted(prod.api.task_instances(prod.daily_run), key=lambda ti: ti["start_date"])
    shown = [f"{ti['task_id']:<20} on {ti['hostname']}  {ti['start_date']} .. {ti['end_date']}" for ti in tis]
    print("\n".join(["which worker ran which task:", *shown]))
    assert {ti["hostname"] for ti in tis} == {"worker1", "worker2"}, shown
{%- endif %}


@pytest.mark.restart
def test_run_completes_exactly_after_sigkill_of_the_scheduler{% if cookiecutter.executor == "celery" %}_and_worker{% endif %}(prod, prod_local):
    day = prod_local.FIRST_SCORED + timedelta(days=1)
    run = prod.score(day)
    ti = prod.api.wait_for_task_state(run, "predict", "running", timeout=300)
{%- if cookiecutter.executor == "celery" %}
    # The scheduler, and the worker running predict (worker<n> is unit airflow-celery-worker@<n>).
    victims = ["airflow-scheduler", f"airflow-celery-worker@{ti['hostname'].removeprefix('worker')}"]
{%- else %}
    victims = ["airflow-scheduler"]  # the LocalExecutor runs predict inside the scheduler's unit
{%- endif %}
    starts = {name: len(prod.supervisor.services[name].starts) for name in victims}
    for name in victims:
        os.kill(prod.supervisor.services[name].pid, signal.SIGKILL)
    for name in victims:
        service = prod.supervisor.wait_restarted(name, starts[name] + 1, timeout=60)
        assert service.exits[-1] == -signal.SIGKILL

    run = prod.api.wait_for_run(run, timeout=600)

    tries = {t["task_id"]: (t["state"], t["try_number"]) for t in prod.api.task_instances(run)}
    print(f"SIGKILL {victims} while predict ran (try {ti['try_number']} on {ti['hostname']}); then {tries}")
    assert run["state"] == "success", tries
    assert tries["predict"] == ("success", 2), tries  # the killed try, then the retry
    entities, run_id = prod_local.ENTITIES, run["dag_run_id"]
    assert prediction_stats(prod, day) == (entities, entities, run_id, run_id)
