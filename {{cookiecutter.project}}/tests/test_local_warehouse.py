"""`make warehouse`, `make psql`, `make stop` (infra/local_warehouse.py) on an embedded PostgreSQL
in a state folder of its own: the printed psql command works as given, as a login that reads
and cannot write, runs sql/analyst_queries.sql, and the server keeps running between commands
until stopped."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from {{ cookiecutter.project }}.warehouse import embedded

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def state():
    # Not under pytest's basetemp: as root, PostgreSQL runs as pgserver's own user (see conftest.py).
    folder = Path(tempfile.mkdtemp(prefix="local-warehouse-"))
    yield folder
    embedded.stop(folder / "pgdata")
    shutil.rmtree(folder, ignore_errors=True)


def local_warehouse(state: Path, command: str) -> str:
    """`python -m infra.local_warehouse <command>` as the Makefile runs it; its output."""
    env = {k: v for k, v in os.environ.items() if k not in ("WAREHOUSE_URL", "WAREHOUSE_SCHEMA")}
    done = subprocess.run(
        [sys.executable, "-m", "infra.local_warehouse", command],
        cwd=ROOT,
        env=env | {"STATE_DIR": str(state)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def psql_command(printed: str) -> list[str]:
    line = next(line for line in printed.splitlines() if line.strip().startswith("psql:"))
    return shlex.split(line.split("psql:", 1)[1])


def test_make_warehouse_starts_it_and_prints_a_read_only_psql_command(state):
    command = psql_command(local_warehouse(state, "start"))
    assert embedded.is_running(state / "pgdata")  # still, after the command ended

    def psql(statement: str) -> subprocess.CompletedProcess:
        return subprocess.run([*command, "-Atc", statement], capture_output=True, text=True, timeout=60)

    read = psql("SELECT current_user, count(*) FROM predictions")
    assert read.returncode == 0, read.stderr
    assert read.stdout.strip() == "analyst|0"  # the schema is on its search path
    for statement in ("INSERT INTO airflow_runs (dag_id, run_id, run_type) VALUES ('d', 'r', 'manual')",
                      "DELETE FROM predictions", "CREATE TABLE mine (x int)"):  # fmt: skip
        denied = psql(statement)
        assert denied.returncode != 0 and "permission denied" in denied.stderr, statement


def test_the_analysts_example_queries_run_as_the_analyst(state):
    command = psql_command(local_warehouse(state, "start"))
    queries = ROOT / "sql" / "analyst_queries.sql"
    done = subprocess.run([*command, "-v", "ON_ERROR_STOP=1", "-f", queries], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_make_warehouse_again_finds_it_running(state):
    assert psql_command(local_warehouse(state, "start"))


def test_make_stop_stops_it(state):
    assert "stopped the embedded PostgreSQL" in local_warehouse(state, "stop")
    assert not embedded.is_running(state / "pgdata")
    assert "not running" in local_warehouse(state, "stop")


def test_a_process_stops_the_server_it_started_and_leaves_the_one_it_found(state):
    """As `make demo` or `make notebook` use the warehouse: each leaves the server as it found it."""
    query = (
        "from {{ cookiecutter.project }}.config import Settings; from {{ cookiecutter.project }}.warehouse import fetch_all; "
        "assert fetch_all(Settings.from_env(), 'SELECT 1') == [(1,)]"
    )
    env = {k: v for k, v in os.environ.items() if k != "WAREHOUSE_URL"} | {"STATE_DIR": str(state)}
    for running_before in (False, True):
        if running_before:
            local_warehouse(state, "start")
        subprocess.run([sys.executable, "-c", query], env=env, cwd=ROOT, check=True, timeout=120)
        assert embedded.is_running(state / "pgdata") == running_before
