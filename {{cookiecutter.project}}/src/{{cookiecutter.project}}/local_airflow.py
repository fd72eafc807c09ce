"""A local Airflow for the demo, the tests, `make airflow`, `make run` and `make airflow-cli`:
SQLite metadata under STATE_DIR.

On EC2 the same DAGs run under systemd against PostgreSQL metadata (see infra/).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from .config import PROJECT_ROOT, Settings

DEFAULT_PORT = 8080
ADMIN = "admin"  # the one user of the local Airflow (simple auth manager); its password is in PASSWORDS
PASSWORDS = "passwords.json"
SERVER = "server.json"  # written by a running `make airflow`: its pid and URL


def airflow_env(state_dir: Path) -> dict[str, str]:
    """The environment that points Airflow at this project, with its home under `state_dir`."""
    return {
        "AIRFLOW_HOME": str(state_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
    }


def port_env(port: int) -> dict[str, str]:
    """Everything that depends on the API server's port: the UI's own links, and where tasks
    reach the API (setting [api] port alone leaves them calling 8080)."""
    url = f"http://127.0.0.1:{port}"
    return {
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
    }


def local_env(home: Path) -> dict[str, str]:
    """What every local Airflow of this project runs with, on top of `airflow_env` and `port_env`."""
    return {
        "AIRFLOW__API__HOST": "127.0.0.1",  # this machine only
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__PARALLELISM": "4",  # the LocalExecutor forks this many workers up front (default 32)
        # DAGs run what you start (a backfill, a trigger), never by the clock: the local data is
        # history, and a scheduled run would be for yesterday, which it has no data for. So a
        # DAG need not wait paused, and a REST or CLI backfill runs without unpausing it first.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS),
        # A task's first call to the API can take more than the default 5 s while several tasks
        # start at once on a laptop: it then logs a retry warning, and succeeds.
        "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "30",
        # uvicorn warns that Airflow's log servers do not call themselves app factories.
        "AIRFLOW__LOGGING__UVICORN_LOGGING_LEVEL": "ERROR",
        # Airflow's in-process API client still imports starlette's TestClient; the DAG commands
        # would render graphs with graphviz, which no command here uses.
        "PYTHONWARNINGS": "ignore:Using `httpx` with `starlette.testclient`,ignore:Could not import graphviz",
    }


def configure(settings: Settings, home: Path | None = None, port: int = DEFAULT_PORT) -> None:
    """Point Airflow at this project, unless the environment already does (`home`: this home,
    whatever the environment says). Call before importing airflow."""
    home = home or airflow_home(settings)
    os.environ["AIRFLOW_HOME"] = str(home)
    for key, value in airflow_env(settings.state_dir).items():
        os.environ.setdefault(key, value)
    home.mkdir(parents=True, exist_ok=True)
    for key, value in local_env(home).items():
        os.environ.setdefault(key, value)
    os.environ.update(port_env(port))
    _keep_secret(home / PASSWORDS, lambda: json.dumps({ADMIN: secrets.token_urlsafe(12)}))
    # Airflow generates a 16-byte JWT secret; PyJWT warns on every token below 64 (HS512).
    jwt_secret = _keep_secret(home / "jwt_secret", lambda: secrets.token_urlsafe(64))
    os.environ.setdefault("AIRFLOW__API_AUTH__JWT_SECRET", jwt_secret)
    if not (home / "airflow.db").exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL
        )


def airflow_home(settings: Settings) -> Path:
    """The local Airflow home: AIRFLOW_HOME, else STATE_DIR/airflow."""
    return Path(os.environ.get("AIRFLOW_HOME") or airflow_env(settings.state_dir)["AIRFLOW_HOME"])


def _keep_secret(path: Path, make) -> str:
    """The contents of `path`, written first (readable by this user only) if it does not exist."""
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(make())
    return path.read_text()


def admin_password(home: Path) -> str:
    return json.loads((home / PASSWORDS).read_text())[ADMIN]


def running_server(home: Path) -> dict | None:
    """The `make airflow` serving this home ({"pid", "url", "port"}), or None if none is running."""
    try:
        server = json.loads((home / SERVER).read_text())
        os.kill(server["pid"], 0)
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return server


def load_dags() -> dict:
    """The project's DAGs by id, failing loudly on any import error."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise RuntimeError(f"DAG import errors: {bag.import_errors}")
    return bag.dags


class RunRefused(RuntimeError):
    """A run that would do nothing: its interval starts before the DAG's start_date, or it made no task."""


def run_once(dag, logical_date: datetime, retries: int = 0):
    """`dag.test()` for the data interval that ends at `logical_date`; returns the DagRun.

    Each task gets `retries` retries with no delay between them, so a failure shows at
    once instead of waiting out the production retry_delay. A run that Airflow would
    accept and do nothing for (before start_date, or with no task instance) raises
    RunRefused instead of reporting a green run with no rows.
    """
    from airflow.serialization.encoders import coerce_to_core_timetable

    interval = coerce_to_core_timetable(dag.timetable).infer_manual_data_interval(run_after=logical_date)
    if interval.start < dag.start_date:
        raise RunRefused(
            f"{dag.dag_id}: the data interval {interval.start:%Y-%m-%d %H:%M} starts before the DAG's"
            f" start_date {dag.start_date:%Y-%m-%d}: set START_DATE to an earlier date to run it"
        )
    for task in dag.tasks:
        task.retries, task.retry_delay = retries, timedelta(0)
    run = dag.test(logical_date=logical_date)
    if not run.get_task_instances():
        raise RunRefused(f"{dag.dag_id}: the run for {interval.start:%Y-%m-%d} created no task instance")
    return run


def scheduled_intervals(dag, first: date, last: date) -> list:
    """The data intervals the scheduler gives the runs starting from `first` to `last` (dates included)."""
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(dag.timetable)
    restriction = TimeRestriction(datetime.combine(first, time(), tzinfo=UTC), None, catchup=True)
    intervals, previous = [], None
    while (
        info := timetable.next_dagrun_info(last_automated_data_interval=previous, restriction=restriction)
    ) and (info.data_interval.start.date() <= last):
        intervals.append(previous := info.data_interval)
    return intervals


def scheduled_interval(dag, day: date):
    """The data interval the scheduler gives the run for partition `day` (the first starting that day)."""
    intervals = scheduled_intervals(dag, day, day)
    if not intervals:
        raise ValueError(f"{dag.dag_id}: no scheduled run starts on {day}")
    return intervals[0]


def run_day(dag, day: date):
    """Run `dag` once for the partition of `day`, as the scheduler would.

    `run_once(dag, X)` runs the data interval that ends at X.
    """
    return run_once(dag, scheduled_interval(dag, day).end)

{%- if cookiecutter.executor == "celery" %}


def local_host_name() -> str:
    """`[core] hostname_callable` under `make prod-local`, where each Celery worker stands for a host
    of its own (LOCAL_HOST_NAME): task instances then show which worker ran them."""
    import socket

    return os.environ.get("LOCAL_HOST_NAME") or socket.getfqdn()
{%- endif %}


@contextmanager
def output_to(path: Path) -> Iterator[None]:
    """Send this process's stdout and stderr (Airflow's task logs included) to `path`.

    File-descriptor level, since Airflow's loggers hold their own handles on the streams.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(path, "a") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def run(name: str, first: date, last: date) -> int:
    """`make run`: the DAG's scheduled runs starting from `first` to `last`, here, one after another.

    Loads history or re-scores a period without a running scheduler; each run is a real
    Airflow run (`dag.test`) with its task logs in STATE_DIR/run-airflow.log.
    """
    from .warehouse import migrate

    settings = Settings.from_env()
    configure(settings)
    migrate(settings)
    log = settings.state_dir / "run-airflow.log"
    with output_to(log):
        dag = load_dags()[f"{{ cookiecutter.project }}_{name}"]
    intervals = scheduled_intervals(dag, first, last)
    if not intervals:
        print(f"{dag.dag_id}: no scheduled run starts between {first} and {last}")
        return 1
    print(f"{dag.dag_id}: {len(intervals)} run(s), task logs in {log}")
    failed = 0
    for interval in intervals:
        with output_to(log):
            state = run_once(dag, interval.end).state
        failed += state != "success"
        print(f"  {interval.start:%Y-%m-%d %H:%M} -> {interval.end:%Y-%m-%d %H:%M}: {state}")
    return 1 if failed else 0


def airflow_cli(args: list[str]) -> None:
    """`make airflow-cli ARGS="…"`: the `airflow` command with this project's settings (those of the
    running `make airflow`, if one is running)."""
    settings = Settings.from_env()
    server = running_server(airflow_home(settings))
    configure(settings, port=server["port"] if server else DEFAULT_PORT)
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{os.environ['PATH']}"
    os.execv(os.path.join(bin_dir, "airflow"), ["airflow", *args])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["cli"]:  # everything after it is airflow's, --help included
        airflow_cli(argv[1:])
    parser = argparse.ArgumentParser(prog="local_airflow", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("cli", help="the airflow command with this project's settings (make airflow-cli)")
    runs = commands.add_parser("run", help="run a DAG here for each scheduled interval (make run)")
    runs.add_argument("dag", choices=["daily", "retrain"])
    runs.add_argument("start", type=date.fromisoformat, help="first interval start date, YYYY-MM-DD")
    runs.add_argument(
        "end", type=date.fromisoformat, nargs="?", help="last interval start date (default: start)"
    )
    args = parser.parse_args(argv)
    return run(args.dag, args.start, args.end or args.start)


if __name__ == "__main__":
    sys.exit(main())
