"""The supervisor of `make prod-local` (infra/supervisor.py) does what systemd does with the units:
restart after a crash, kill the rest of the unit, give up on a crash loop, stop everything."""

from __future__ import annotations

import importlib
import os
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[1]
# A main process with a child of its own, as an Airflow component has; one that ignores SIGTERM.
WITH_CHILD = [sys.executable, "-c", "import subprocess as s, time; s.Popen(['sleep', '60']); time.sleep(60)"]
DEAF = [sys.executable, "-c", "import signal as s, time; s.signal(s.SIGTERM, s.SIG_IGN); time.sleep(60)"]


@pytest.fixture(scope="module")
def infra():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("infra.supervisor"), importlib.import_module("infra.units")


@pytest.fixture
def supervisor(infra):
    with infra[0].Supervisor() as supervisor:
        yield supervisor


@pytest.fixture
def unit(infra):
    """A unit like ours, with short waits."""
    return infra[1].Unit(
        name="svc",
        command=(),
        working_directory=Path("/"),
        restart="always",
        restart_sec=0.2,
        start_limit_interval_sec=30,
        start_limit_burst=3,
        timeout_stop_sec=5,
        kill_mode="mixed",
    )


def start(supervisor, unit, command, tmp_path):
    return supervisor.start(unit, command, os.environ, tmp_path, tmp_path / f"{unit.name}.log")


def processes_of(infra, service, count: int) -> list[psutil.Process]:
    """The unit's processes, once there are `count` of them."""
    deadline = time.monotonic() + 10
    while len(found := infra[0].session_processes(service.pid)) < count:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)
    return found


def test_sigkilled_unit_restarts_without_its_old_children(infra, supervisor, unit, tmp_path):
    service = start(supervisor, unit, WITH_CHILD, tmp_path)
    first = processes_of(infra, service, 2)

    os.kill(service.pid, signal.SIGKILL)
    supervisor.wait_restarted("svc", 2, timeout=10)

    assert service.exits == [-signal.SIGKILL]
    assert not [p for p in first if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert len(processes_of(infra, service, 2)) == 2  # the new main process and its child


def test_a_crash_loop_stops_at_the_start_limit(supervisor, unit, tmp_path):
    service = start(supervisor, unit, [sys.executable, "-c", "raise SystemExit(3)"], tmp_path)
    deadline = time.monotonic() + 10
    while not service.failed:
        assert time.monotonic() < deadline, service
        time.sleep(0.05)
    assert (len(service.starts), service.exits) == (3, [3, 3, 3])


def test_on_failure_leaves_a_clean_exit_down(supervisor, unit, tmp_path):
    service = start(supervisor, replace(unit, restart="on-failure"), [sys.executable, "-c", "pass"], tmp_path)
    service.process.wait()
    time.sleep(1)  # five restart delays
    assert (len(service.starts), service.exits, service.failed) == (1, [0], False)


def test_stop_ends_every_process_and_kills_what_ignores_sigterm(infra, unit, tmp_path):
    with infra[0].Supervisor() as supervisor:
        services = [
            start(supervisor, unit, WITH_CHILD, tmp_path),
            start(supervisor, replace(unit, name="deaf", timeout_stop_sec=1), DEAF, tmp_path),
        ]
        started = processes_of(infra, services[0], 2) + processes_of(infra, services[1], 1)
    assert not [p for p in started if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert [service.exits[-1] for service in services] == [-signal.SIGTERM, -signal.SIGKILL]
