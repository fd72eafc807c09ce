"""`make airflow [PORT=…]`: this project's Airflow here, for the UI, the REST API and backfills.

Each Airflow component (api-server, scheduler with the LocalExecutor, dag-processor,
triggerer) runs the command line of its systemd unit (infra/units.py) under the supervisor
of `make prod-local` (infra/supervisor.py), with the local SQLite metadata and settings of
`{{ cookiecutter.project }}.local_airflow`. Not `airflow standalone`, because Ctrl-C must stop every
process started here, the embedded PostgreSQL included, and the console must show what a
person needs (URL, user, password file) rather than four components' logs, which go to
files. While it runs, STATE_DIR/airflow/server.json tells `make backfill` and
`make airflow-cli` where it is.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from {{ cookiecutter.project }}.config import PROJECT_ROOT, Settings, shown
from {{ cookiecutter.project }}.local_airflow import (
    ADMIN,
    DEFAULT_PORT,
    PASSWORDS,
    SERVER,
    admin_password,
    airflow_home,
    configure,
    running_server,
)
from {{ cookiecutter.project }}.warehouse import embedded, migrate

from .airflow_api import AirflowAPI
from .ports import free_port, is_free
from .supervisor import Supervisor
from .units import project_units

DAGS = ("{{ cookiecutter.project }}_daily", "{{ cookiecutter.project }}_retrain")
COMPONENTS = ("metadatabase", "scheduler", "triggerer", "dag_processor")


def serve(port: int) -> None:
    """Run Airflow on `port` until SIGINT or SIGTERM; then stop what was started, PostgreSQL included."""
    started = time.monotonic()
    settings = Settings.from_env()
    home = airflow_home(settings)
    if server := running_server(home):
        raise SystemExit(f"Airflow already runs for this project: {server['url']} (pid {server['pid']})")
    if not is_free(port):
        raise SystemExit(f"port {port} is in use: choose another, e.g. PORT={free_port()} make airflow")
    # Ctrl-C stops it, also when started by a shell that ignores SIGINT (a background job);
    # `kill` (SIGTERM) stops it the same way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    configure(settings, port=port)
    pgdata = settings.state_dir / "pgdata"
    starts_postgres = settings.warehouse_url is None and not embedded.is_running(pgdata)
    logs = home / "logs" / "components"
    logs.mkdir(parents=True, exist_ok=True)
    url = os.environ["AIRFLOW__API__BASE_URL"]
    with ExitStack() as stack:
        try:
            if starts_postgres:
                stack.callback(embedded.stop, pgdata)
            migrate(settings)  # starts the embedded PostgreSQL, if it is the warehouse
            supervisor = stack.enter_context(Supervisor())
            print(f"starting Airflow on {url} (component logs: {shown(logs)}/)", flush=True)
            _start_components(supervisor, logs)
            _wait_ready(stack, url, home)
            (home / SERVER).write_text(json.dumps({"pid": os.getpid(), "url": url, "port": port}))
            stack.callback((home / SERVER).unlink, missing_ok=True)
            print(_banner(url, home, logs, starts_postgres, time.monotonic() - started), flush=True)
            while not (failed := [name for name, s in supervisor.services.items() if s.failed]):
                time.sleep(1)
            print(f"{', '.join(failed)} kept failing: see {logs}", flush=True)
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C must not cut the stopping short and leave processes behind.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            also = " and the embedded PostgreSQL" if starts_postgres else ""
            print(f"stopping Airflow{also}", flush=True)
    print("stopped everything `make airflow` started", flush=True)


def _start_components(supervisor: Supervisor, logs: Path) -> None:
    env = dict(os.environ) | {
        # The scheduler and the triggerer each serve their task logs, on ports of their own.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
    }
    for unit in project_units(0, lambda _: socket.gethostname()):  # no Celery worker: LocalExecutor here
        supervisor.start(unit, unit.local_command(PROJECT_ROOT), env, PROJECT_ROOT, logs / f"{unit.name}.log")


def _wait_ready(stack: ExitStack, url: str, home: Path) -> None:
    """Until every component reports healthy and the DAGs are parsed: a backfill can then start."""
    api = AirflowAPI(url)
    stack.callback(api.close)
    api.wait_healthy(COMPONENTS, timeout=300)
    api.login(ADMIN, admin_password(home))
    for dag_id in DAGS:
        api.wait_for_dag(dag_id, timeout=120)


def _banner(url: str, home: Path, logs: Path, starts_postgres: bool, seconds: float) -> str:
    stops = "Airflow and the embedded PostgreSQL it started" if starts_postgres else "Airflow"
    return "\n".join(
        [
            f"Airflow is ready ({seconds:.0f} s): {url}",
            f"  user {ADMIN}, password in {shown(home / PASSWORDS)}",
            f"  DAGs {', '.join(DAGS)}: unpaused; they run what you start, never by the clock",
            "  backfill: make backfill DAG=daily START=YYYY-MM-DD [END=YYYY-MM-DD], or from the UI or the REST API",
            f"  REST API: {url}/api/v2 (a token from POST {url}/auth/token)",
            f"Ctrl-C stops {stops}.",
        ]
    )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make airflow", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("AIRFLOW__API__PORT", DEFAULT_PORT)))
    serve(parser.parse_args(argv).port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
