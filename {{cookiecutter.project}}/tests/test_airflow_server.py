"""`make airflow` and `make backfill` as a person uses them (infra/airflow_server.py, infra/backfill.py).

One scenario, a few minutes long, so marked `airflow_server` (deselect with
`-m "not airflow_server"`): in a fresh state folder, a champion in the embedded warehouse,
which is then stopped; `make airflow` on a free port (it starts PostgreSQL again); the DAGs
wait unpaused and nothing runs by the clock; `make backfill` runs two dates through the
REST API to completion, and each prediction row leads to its run; Ctrl-C leaves nothing
running. Tests run in file order: Ctrl-C comes last.
"""

from __future__ import annotations

import importlib
import os
import queue
import shutil
import signal
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import psutil
import pytest
from conftest import with_champion

from {{ cookiecutter.project }}.config import Settings
from {{ cookiecutter.project }}.demo import simulate_s3_if_unconfigured
from {{ cookiecutter.project }}.local_airflow import admin_password
from {{ cookiecutter.project }}.warehouse import embedded, fetch_all, migrate

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "{{ cookiecutter.project }}"
FIRST = date(2025, 3, 3)
BACKFILLED = [FIRST, FIRST + timedelta(days=1)]
pytestmark = pytest.mark.airflow_server
# Settings of the session that would point the server elsewhere than its own state folder.
UNSET = ("VIRTUAL_ENV", "WAREHOUSE_URL", "WAREHOUSE_SCHEMA", "SOURCE_URL", "SOURCE_SCHEMA", "SOURCE_DROP_DIR",
         "SOURCE_S3_URI", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "ARTIFACTS_URI", "REPORTS_DIR")  # fmt: skip


@dataclass
class Server:
    process: subprocess.Popen
    settings: Settings
    env: dict[str, str]
    url: str
    entities: int
    output: list[str]

    def sql(self, query: str, params=()) -> list[tuple]:
        return fetch_all(self.settings, query, params)


@pytest.fixture(scope="module")
def infra():
    """infra/ is a folder of the project root, not installed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("infra.airflow_api"), importlib.import_module("infra.ports")


@pytest.fixture(scope="module")
def server(infra) -> Server:
    """`make airflow` running on a free port, over a warehouse with a champion that it started."""
    # Not under pytest's basetemp: as root, PostgreSQL runs as pgserver's own user (see conftest.py).
    state = Path(tempfile.mkdtemp(prefix="airflow-server-"))
    saved = dict(os.environ)  # the s3 source's simulation sets variables
    process = None
    try:
        for key in (*UNSET, *[key for key in os.environ if key.startswith("AIRFLOW")]):
            os.environ.pop(key, None)
        os.environ["STATE_DIR"] = str(state)  # the embedded warehouse is then `state`/pgdata
        simulate_s3_if_unconfigured(Settings.from_env())  # s3 projects: moto, reached by the tasks too
        settings = Settings.from_env()
        migrate(settings)
        settings, entities = with_champion(settings, FIRST, len(BACKFILLED))
        embedded.stop(state / "pgdata")  # for `make airflow` to start
        env = dict(os.environ, PORT=str(infra[1].free_port()))
        process = subprocess.Popen(
            ["make", "airflow"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, which Ctrl-C below reaches, as a terminal's
        )
        output = _wait_for(process, "Ctrl-C stops", timeout=600)  # the banner's last line
        yield Server(process, settings, env, f"http://127.0.0.1:{env['PORT']}", entities, output)
    finally:
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=180)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        embedded.stop(state / "pgdata")
        os.environ.clear()
        os.environ.update(saved)
        shutil.rmtree(state, ignore_errors=True)


def _wait_for(process: subprocess.Popen, text: str, timeout: float) -> list[str]:
    """The lines `process` printed, up to the first holding `text`; later lines keep arriving."""
    lines: list[str] = []
    arrived: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [arrived.put(line) for line in process.stdout], daemon=True).start()
    while not any(text in line for line in lines):
        try:
            lines.append(arrived.get(timeout=timeout))
        except queue.Empty:
            raise AssertionError(f"no {text!r} after {timeout} s:\n{''.join(lines)}") from None
    return lines


def test_the_banner_says_where_and_how_to_log_in(server):
    printed = "".join(server.output)
    assert "Airflow is ready" in printed and server.url in printed
    assert "user admin, password in " in printed and "passwords.json" in printed


def test_the_dags_wait_unpaused_and_nothing_runs_by_the_clock(server, infra):
    api = infra[0].AirflowAPI(server.url)
    try:
        api.login("admin", admin_password(server.settings.state_dir / "airflow"))
        for dag_id in (f"{PROJECT}_daily", f"{PROJECT}_retrain"):
            assert not api.is_paused(dag_id)
            assert api.http.get(f"/api/v2/dags/{dag_id}/dagRuns").json()["total_entries"] == 0
    finally:
        api.close()


def test_make_backfill_runs_each_date_to_completion(server):
    first, last = BACKFILLED
    done = subprocess.run(
        ["make", "backfill", "DAG=daily", f"START={first}", f"END={last}"],
        cwd=ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "was paused" not in done.stdout  # created unpaused: a plain REST backfill runs too
    assert f"completed: {len(BACKFILLED)} run(s), {len(BACKFILLED)} success" in done.stdout
    for day in BACKFILLED:
        assert f"  {day}  success " in done.stdout
        assert f"  {day}  running " in done.stdout  # progress shown while it ran
    rows = server.sql("SELECT data_date, count(*) FROM predictions GROUP BY data_date ORDER BY data_date")
    assert rows == [(day, server.entities) for day in BACKFILLED]


def test_each_prediction_leads_to_the_run_that_wrote_it(server):
    """The lineage view joins on the run: its data interval starts on the row's data date, and a
    backfill run's logical date is that interval start, whatever date its run_id carries."""
    runs = server.sql(
        """SELECT data_date, dag_id, run_type, data_interval_start::date, data_interval_end - data_interval_start,
                  logical_date = data_interval_start, count(*)
           FROM prediction_lineage GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 1"""
    )
    daily, one_day = f"{PROJECT}_daily", timedelta(days=1)
    assert runs == [(day, daily, "backfill", day, one_day, True, server.entities) for day in BACKFILLED]


def test_ctrl_c_stops_every_process_it_started(server):
    started = psutil.Process(server.process.pid)
    processes = [started, *started.children(recursive=True)]
    postmaster = int((server.settings.state_dir / "pgdata" / "postmaster.pid").read_text().split()[0])
    processes += [psutil.Process(postmaster), *psutil.Process(postmaster).children()]
    assert len(processes) > 10  # make, the server, four components, the executor's workers, PostgreSQL

    os.killpg(server.process.pid, signal.SIGINT)
    server.process.wait(timeout=180)

    left = [p for p in processes if _alive(p)]
    assert not left, [p.cmdline() for p in left]
    assert not embedded.is_running(server.settings.state_dir / "pgdata")
    assert not (server.settings.state_dir / "airflow" / "server.json").exists()


def _alive(process: psutil.Process) -> bool:
    """Running, and not a zombie (which a container's init may leave unreaped)."""
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
