"""A local Airflow for the demo, the tests and `make airflow`: SQLite metadata under STATE_DIR.

On EC2 the same DAGs run under systemd against PostgreSQL metadata (see infra/).
"""

from __future__ import annotations

import os
import subprocess
import sys

from .config import PROJECT_ROOT, Settings


def configure(settings: Settings) -> None:
    """Point Airflow at this project, unless the environment already does. Call before importing airflow."""
    home = settings.state_dir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("AIRFLOW_HOME", str(home))
    os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(PROJECT_ROOT / "dags"))
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")
    if not (home / "airflow.db").exists():
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True,
                       stdout=subprocess.DEVNULL)


def load_dags() -> dict:
    """The project's DAGs by id, failing loudly on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags


def run_once(dag, logical_date):
    """`dag.test()` with each task tried once: a failure shows at once instead of
    waiting out the production retry_delay. Returns the DagRun."""
    for task in dag.tasks:
        task.retries = 0
    return dag.test(logical_date=logical_date)


if __name__ == "__main__":  # `make airflow`: the UI and REST API on :8080
    configure(Settings.from_env())
    bin_dir = os.path.dirname(sys.executable)  # standalone starts `airflow` subprocesses by name
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    os.execv(os.path.join(bin_dir, "airflow"), ["airflow", "standalone"])
