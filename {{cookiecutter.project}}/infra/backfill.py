"""`make backfill DAG=daily START=… [END=…]`: a backfill by the running `make airflow`, followed
until it completes.

START and END are data dates, as in `make run`: the backfill makes the runs whose data
interval starts on a day from START to END (their logical date is that interval start). It
goes through the REST API (infra/airflow_api.py), as the UI's Backfill dialog does, not
`airflow backfill create`, which only writes the backfill into the metadata database: the API
says first whether the scheduler is alive, so a backfill never sits queued with nobody to run
it, and then shows each run's tasks as they finish.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import date, datetime

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.local_airflow import (
    ADMIN,
    admin_password,
    airflow_home,
    running_server,
)

from .airflow_api import AirflowAPI
from .airflow_server import COMPONENTS

PROJECT = "{{ cookiecutter.project }}"
FINISHED_TASK = ("success", "failed", "skipped", "upstream_failed", "removed")
MAX_ACTIVE_RUNS = 2  # two cores here: more runs at once only queue their tasks


def backfill(dag_id: str, first: date, last: date, reprocess: str, poll: float = 2) -> bool:
    """Backfill `dag_id` through the running `make airflow`, printing progress; whether every run succeeded."""
    home = airflow_home(Settings.from_env())
    server = running_server(home)
    if server is None:
        raise SystemExit("no `make airflow` runs for this project: start it in another terminal first")
    api = AirflowAPI(server["url"])
    try:
        api.wait_healthy(COMPONENTS, timeout=30)
        api.login(ADMIN, admin_password(home))
        if api.is_paused(dag_id):  # its runs would wait forever
            api.unpause(dag_id)
            print(f"{dag_id} was paused: unpaused it")
        created = api.create_backfill(dag_id, first, last, reprocess, MAX_ACTIVE_RUNS)
        print(f"backfill {created['id']} of {dag_id}, data dates {first} to {last} (reprocess: {reprocess})")
        runs = follow(api, created, poll)
    except (RuntimeError, TimeoutError) as exc:
        raise SystemExit(f"backfill of {dag_id}: {exc}") from None
    finally:
        api.close()
    states = Counter(run["state"] for run in runs)
    counts = ", ".join(f"{n} {state}" for state, n in sorted(states.items()))
    print(f"completed: {len(runs)} run(s), {counts}")
    return set(states) <= {"success"}


def follow(api: AirflowAPI, created: dict, poll: float) -> list[dict]:
    """Print each run's progress when it changes, until Airflow marks the backfill complete; its runs."""
    shown: dict[str, str] = {}
    while True:
        # Completion read before the runs, so that the last changes are shown.
        complete = api.get_backfill(created)["completed_at"] is not None
        runs = api.backfill_runs(created)
        for run in runs:
            line = progress(api, run)
            if shown.get(run["dag_run_id"]) != line:
                print(line, flush=True)
                shown[run["dag_run_id"]] = line
        if complete:
            return runs
        time.sleep(poll)


def progress(api: AirflowAPI, run: dict) -> str:
    """One line: the run's data date, its state, and (once it started) its tasks done."""
    day = datetime.fromisoformat(run["data_interval_start"]).date()
    line = f"  {day}  {run['state']:<8} {run['dag_run_id']}"
    if run["state"] != "queued":
        tasks = api.task_instances(run)
        done = sum(ti["state"] in FINISHED_TASK for ti in tasks)
        line += f"  {done}/{len(tasks)} tasks done"
    return line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make backfill", description=__doc__.split("\n")[0])
    parser.add_argument("dag", choices=["daily", "retrain"])
    parser.add_argument("start", type=date.fromisoformat, help="data date of the first run, YYYY-MM-DD")
    parser.add_argument("end", type=date.fromisoformat, nargs="?", help="data date of the last run [start]")
    parser.add_argument(
        "--reprocess",
        choices=["none", "failed", "completed"],
        default="completed",
        help="dates that already have a run: skip them, rerun the failed ones, or rerun them all (default)",
    )
    args = parser.parse_args(argv)
    ok = backfill(f"{PROJECT}_{args.dag}", args.start, args.end or args.start, args.reprocess)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
