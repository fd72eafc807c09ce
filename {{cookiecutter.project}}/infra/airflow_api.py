"""A small client of Airflow 3's REST API (/api/v2), as an operator's script would use it.

It logs in through the auth manager (`POST /auth/token`), then unpauses DAGs, starts runs and
reads their task instances. Airflow creates DAGs paused, and a run of a paused DAG waits
forever without an error: `trigger` and `backfill` unpause first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock
from typing import Any
from urllib.parse import quote

import httpx

FINISHED = ("success", "failed")


class AirflowAPI:
    def __init__(self, base_url: str, timeout: float = 30):
        self.http = httpx.Client(base_url=base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def wait_healthy(self, components: tuple[str, ...], timeout: float) -> None:
        """Block until the API answers and reports each of `components` healthy (no login needed)."""

        def healthy() -> bool:
            try:
                health = self.http.get("/api/v2/monitor/health").json()
            except httpx.TransportError:  # not listening yet
                return False
            return all(health.get(c, {}).get("status") == "healthy" for c in components)

        _wait(healthy, timeout, f"Airflow's {', '.join(components)} healthy")

    def login(self, username: str, password: str) -> None:
        response = self.http.post("/auth/token", json={"username": username, "password": password})
        response.raise_for_status()
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"

    def wait_for_dag(self, dag_id: str, timeout: float) -> None:
        """Block until the DAG processor has parsed `dag_id` into the metadata database."""
        _wait(lambda: self.http.get(f"/api/v2/dags/{dag_id}").status_code != 404, timeout, f"{dag_id} parsed")

    def unpause(self, dag_id: str) -> None:
        self._ok(self.http.patch(f"/api/v2/dags/{dag_id}", json={"is_paused": False}))

    def trigger(self, dag_id: str, logical_date: datetime) -> dict:
        """A manual run; its data interval is the last complete one before `logical_date`,
        as `dag.test(logical_date=...)` runs it."""
        self.unpause(dag_id)
        body = {"logical_date": logical_date.isoformat()}
        return self._ok(self.http.post(f"/api/v2/dags/{dag_id}/dagRuns", json=body))

    def backfill(self, dag_id: str, day: date, timeout: float = 120) -> dict:
        """The run the scheduler gives partition `day` (the one whose interval starts that day),
        created as an operator's backfill: logical date = interval start, like scheduled runs.

        Airflow refuses a backfill while another of the DAG's runs, and marks one complete a
        little after its last run ends: that wait comes first.
        """
        self.unpause(dag_id)
        _wait(lambda: self.no_backfill_running(dag_id), timeout, f"{dag_id}'s earlier backfill complete")
        runs = self.backfill_runs(self.create_backfill(dag_id, day, day, "completed"))
        if len(runs) != 1:
            raise RuntimeError(f"{dag_id}: expected one run for {day}, the backfill made {len(runs)}")
        return runs[0]

    def no_backfill_running(self, dag_id: str) -> bool:
        backfills = self._ok(self.http.get("/api/v2/backfills", params={"dag_id": dag_id}))["backfills"]
        return all(backfill["completed_at"] for backfill in backfills)

    def create_backfill(
        self, dag_id: str, first: date, last: date, reprocess: str, max_active_runs: int = 1
    ) -> dict:
        """A backfill of the runs whose logical date (= interval start) is a day from `first` to
        `last`, both included; `reprocess`: none, failed or completed, for dates that have runs."""
        body = {
            "dag_id": dag_id,
            "from_date": _midnight(first).isoformat(),
            "to_date": _midnight(last).isoformat(),  # inclusive: the run of `last` is in
            "reprocess_behavior": reprocess,
            "max_active_runs": max_active_runs,
        }

        def attempt() -> httpx.Response | None:
            # On SQLite metadata (`make airflow`) Airflow answers 503 while another component
            # holds the database's write lock; a moment later the same request goes through.
            response = self.http.post("/api/v2/backfills", json=body)
            return None if response.status_code == 503 else response

        return self._ok(_wait(attempt, 60, "the backfill created past a locked metadata database"))

    def get_backfill(self, backfill: dict) -> dict:
        return self._ok(self.http.get(f"/api/v2/backfills/{backfill['id']}"))

    def backfill_runs(self, backfill: dict) -> list[dict]:
        """The DAG's backfill runs in the backfill's date range, by logical date."""
        params = {
            "run_type": "backfill",
            "logical_date_gte": backfill["from_date"],
            "logical_date_lte": backfill["to_date"],
            "order_by": "logical_date",
        }
        path = f"/api/v2/dags/{backfill['dag_id']}/dagRuns"
        return self._ok(self.http.get(path, params=params))["dag_runs"]

    def is_paused(self, dag_id: str) -> bool:
        return self._ok(self.http.get(f"/api/v2/dags/{dag_id}"))["is_paused"]

    def wait_for_run(self, run: dict, timeout: float) -> dict:
        """The run once finished (success or failed)."""

        def finished() -> dict | None:
            current = self.dag_run(run)
            return current if current["state"] in FINISHED else None

        return _wait(finished, timeout, f"{run['dag_run_id']} finished")

    def dag_run(self, run: dict) -> dict:
        return self._ok(self.http.get(_run_path(run)))

    def task_instances(self, run: dict) -> list[dict]:
        return self._ok(self.http.get(f"{_run_path(run)}/taskInstances"))["task_instances"]

    def wait_for_task_state(self, run: dict, task_id: str, state: str, timeout: float) -> dict:
        """Block until `task_id` of `run` is in `state`; its task instance."""

        def task() -> dict | None:
            ti = next(t for t in self.task_instances(run) if t["task_id"] == task_id)
            return ti if ti["state"] == state else None

        return _wait(task, timeout, f"{task_id} of {run['dag_run_id']} {state}", poll=0.2)

    @staticmethod
    def _ok(response: httpx.Response) -> dict:
        if response.is_error:
            request = response.request
            raise RuntimeError(f"{request.method} {request.url.path}: {response.status_code} {response.text}")
        return response.json()


def _midnight(day: date) -> datetime:
    return datetime.combine(day, clock(), tzinfo=UTC)


def _run_path(run: dict) -> str:
    return f"/api/v2/dags/{run['dag_id']}/dagRuns/{quote(run['dag_run_id'], safe='')}"


def _wait(check: Callable[[], Any], timeout: float, what: str, poll: float = 1) -> Any:
    """The first true result of `check()`, asked every `poll` seconds for up to `timeout`."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not {what} after {timeout:.0f} s")
        time.sleep(poll)
    return result
