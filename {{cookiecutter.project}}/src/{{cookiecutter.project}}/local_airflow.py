"""A local Airflow for the demo, the tests and `make airflow`: SQLite metadata under STATE_DIR.

On EC2 the same DAGs run under systemd against PostgreSQL metadata (see infra/).
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path

from .config import PROJECT_ROOT, Settings


def airflow_env(state_dir: Path) -> dict[str, str]:
    """The environment that points Airflow at this project, with its home under `state_dir`."""
    return {
        "AIRFLOW_HOME": str(state_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def configure(settings: Settings) -> None:
    """Point Airflow at this project, unless the environment already does. Call before importing airflow."""
    for key, value in airflow_env(settings.state_dir).items():
        os.environ.setdefault(key, value)
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    if not (home / "airflow.db").exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL
        )


def load_dags() -> dict:
    """The project's DAGs by id, failing loudly on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags


def run_once(dag, logical_date: datetime):
    """`dag.test()` with each task tried once: a failure shows at once instead of
    waiting out the production retry_delay. Returns the DagRun."""
    for task in dag.tasks:
        task.retries = 0
    return dag.test(logical_date=logical_date)


def scheduled_interval(dag, day: date):
    """The data interval the scheduler gives the run for partition `day` (the first starting that day)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    start = datetime.combine(day, time(), tzinfo=UTC)
    info = coerce_to_core_timetable(dag.timetable).next_dagrun_info(
        last_automated_data_interval=None, restriction=TimeRestriction(start, None, catchup=True)
    )
    if info is None or info.data_interval.start.date() != day:
        raise ValueError(f"{dag.dag_id}: no scheduled run starts on {day}")
    return info.data_interval


def run_day(dag, day: date):
    """Run `dag` once for the partition of `day`, as the scheduler would.

    `dag.test(logical_date=X)` runs the data interval that ends at X.
    """
    return run_once(dag, scheduled_interval(dag, day).end)

{%- if cookiecutter.executor == "celery" %}


def local_host_name() -> str:
    """`[core] hostname_callable` under `make prod-local`, where each Celery worker stands for a host
    of its own (LOCAL_HOST_NAME): task instances then show which worker ran them."""
    import socket

    return os.environ.get("LOCAL_HOST_NAME") or socket.getfqdn()
{%- endif %}


if __name__ == "__main__":  # `make airflow`: the UI and REST API on :8080
    from .warehouse import migrate

    settings = Settings.from_env()
    configure(settings)
    migrate(settings)
    bin_dir = os.path.dirname(sys.executable)  # standalone starts `airflow` subprocesses by name
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    os.execv(os.path.join(bin_dir, "airflow"), ["airflow", "standalone"])
