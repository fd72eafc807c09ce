"""A small process supervisor that restarts units as systemd's Restart= does, for `make prod-local`.

Each unit runs in a session of its own, which stands in for its control group: every process it
starts (Airflow's workers, task processes) stays in that session. What it emulates of systemd:

- Restart=always / on-failure: after the main process exits (a crash, SIGKILL), the rest of the
  unit is killed as KillMode says, and the unit starts again after RestartSec;
- StartLimitIntervalSec / StartLimitBurst: a unit that would start more often than that gives up
  and stays down (`failed`), as systemd leaves a crash loop for a person to look at;
- stop: SIGTERM (to the main process with KillMode=mixed, to the whole unit otherwise), then
  SIGKILL to whatever is left after TimeoutStopSec.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from .units import Unit


@dataclass
class Service:
    unit: Unit
    command: list[str]
    env: Mapping[str, str]
    cwd: Path
    log: Path
    process: subprocess.Popen | None = None
    starts: list[float] = field(default_factory=list)  # monotonic time of each start
    exits: list[int] = field(default_factory=list)  # return codes; negative: killed by that signal
    failed: bool = False  # hit the start limit: down for good, as systemd leaves it

    @property
    def pid(self) -> int:
        return self.process.pid

    def may_start(self, now: float) -> bool:
        recent = [t for t in self.starts if now - t < self.unit.start_limit_interval_sec]
        return len(recent) < self.unit.start_limit_burst


def session_processes(sid: int) -> list[psutil.Process]:
    """The live processes of session `sid` (zombies are already dead, whoever reaps them)."""
    found = []
    for process in psutil.process_iter(["status"]):
        try:
            if os.getsid(process.pid) == sid and process.info["status"] != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, PermissionError):
            continue
    return found


class Supervisor:
    """Start units with `start`; `stop_all` (or leaving the `with` block) stops every one."""

    def __init__(self) -> None:
        self.services: dict[str, Service] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()  # no (re)start while stopping
        self._watchers: list[threading.Thread] = []

    def __enter__(self) -> Supervisor:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_all()

    def start(self, unit: Unit, command: list[str], env: Mapping[str, str], cwd: Path, log: Path) -> Service:
        service = Service(unit, command, env, cwd, log)
        self.services[unit.name] = service
        self._spawn(service)
        watcher = threading.Thread(
            target=self._watch, args=(service,), name=f"watch-{unit.name}", daemon=True
        )
        self._watchers.append(watcher)
        watcher.start()
        return service

    def wait_restarted(self, name: str, starts: int, timeout: float) -> Service:
        """Block until unit `name` has been started `starts` times; the service."""
        service = self.services[name]
        deadline = time.monotonic() + timeout
        while len(service.starts) < starts:
            if service.failed or time.monotonic() > deadline:
                raise TimeoutError(
                    f"{name} was not restarted (starts: {len(service.starts)}, exits: {service.exits})"
                )
            time.sleep(0.1)
        return service

    def stop_all(self) -> None:
        with self._lock:
            self._stopping.set()
        stopping = [s for s in self.services.values() if s.process and s.process.poll() is None]
        targets = {s.unit.name: self._terminate(s) for s in stopping}  # all at once, as `systemctl stop`
        for service in stopping:
            self._kill_rest(service, targets[service.unit.name], service.unit.timeout_stop_sec)
        for watcher in self._watchers:
            watcher.join(timeout=10)

    def _spawn(self, service: Service) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            service.starts.append(time.monotonic())
            with open(service.log, "ab") as log:
                service.process = subprocess.Popen(
                    service.command,
                    env=dict(service.env),
                    cwd=service.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # the unit's "control group"
                )

    def _watch(self, service: Service) -> None:
        while True:
            code = service.process.wait()
            service.exits.append(code)
            if self._stopping.is_set():
                return
            # The main process is gone; the rest of the unit goes as on a stop.
            self._kill_rest(service, self._terminate(service), service.unit.timeout_stop_sec)
            if not service.unit.restarts_after(code) or self._stopping.wait(service.unit.restart_sec):
                return
            if not service.may_start(time.monotonic()):
                service.failed = True
                return
            self._spawn(service)

    def _terminate(self, service: Service) -> list[psutil.Process]:
        """SIGTERM as KillMode says: the main process alone (mixed), or the whole unit; those signalled."""
        if service.unit.kill_mode == "mixed":
            targets = [p for p in session_processes(service.pid) if p.pid == service.pid]
        else:
            targets = session_processes(service.pid)
        for process in targets:
            _signal(process, signal.SIGTERM)
        return targets

    def _kill_rest(self, service: Service, signalled: list[psutil.Process], timeout: float) -> None:
        """Give the signalled processes `timeout` seconds to end, then SIGKILL all that is left of the unit."""
        deadline = time.monotonic() + timeout
        while any(_alive(p) for p in signalled) and time.monotonic() < deadline:
            time.sleep(0.1)
        for process in session_processes(service.pid):
            _signal(process, signal.SIGKILL)
        service.process.wait()


def _alive(process: psutil.Process) -> bool:
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _signal(process: psutil.Process, sig: int) -> None:
    try:
        process.send_signal(sig)
    except psutil.NoSuchProcess:
        pass
