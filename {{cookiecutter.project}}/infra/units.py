"""The systemd units in infra/systemd/, read as data: one definition of each Airflow component.

systemd runs them on the EC2 host; `make prod-local` (infra/prod_local.py) runs the very same
command lines here, under infra/supervisor.py, with the same restart policy. Nothing else
spells a component's command, so the two cannot drift apart.
"""

from __future__ import annotations

import configparser
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SYSTEMD = Path(__file__).with_name("systemd")
RESTART_POLICIES = ("no", "on-failure", "always")
KILL_MODES = ("control-group", "mixed")
# The unit specifiers our units use: instance, host name, a literal %.
_SPECIFIER = re.compile(r"%(.)")


@dataclass(frozen=True)
class Unit:
    name: str  # e.g. airflow-scheduler, airflow-celery-worker@1
    command: tuple[str, ...]  # ExecStart, specifiers expanded
    working_directory: Path
    restart: str
    restart_sec: float
    start_limit_interval_sec: float
    start_limit_burst: int
    timeout_stop_sec: float
    kill_mode: str

    def local_command(self, root: Path) -> list[str]:
        """ExecStart for a checkout at `root`: the install folder (WorkingDirectory) becomes `root`."""
        install = str(self.working_directory)
        return [
            str(root) + arg[len(install) :] if arg.startswith(install + "/") else arg for arg in self.command
        ]

    def restarts_after(self, returncode: int) -> bool:
        """Whether systemd restarts the unit after its main process exited with `returncode`
        (negative: killed by that signal)."""
        return self.restart == "always" or (self.restart == "on-failure" and returncode != 0)


def read_unit(path: Path, host: str, instance: str = "") -> Unit:
    """The unit at `path`; `instance` names one instance of a template unit (`name@.service`)."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # systemd keys are case-sensitive
    parser.read_string(path.read_text())
    unit, service = parser["Unit"], parser["Service"]
    specifiers = {"i": instance, "H": host, "%": "%"}

    def expand(text: str) -> str:
        def one(match: re.Match) -> str:
            if match.group(1) not in specifiers:
                raise ValueError(f"{path.name}: specifier %{match.group(1)} is not supported locally")
            return specifiers[match.group(1)]

        return _SPECIFIER.sub(one, text)

    restart = service.get("Restart", "no")
    kill_mode = service.get("KillMode", "control-group")
    if restart not in RESTART_POLICIES or kill_mode not in KILL_MODES:
        raise ValueError(f"{path.name}: Restart={restart} KillMode={kill_mode} is not supported locally")
    # Time spans in plain seconds, as our units write them ("5min" would fail here, loudly).
    return Unit(
        name=path.stem + instance,
        command=tuple(expand(arg) for arg in shlex.split(service["ExecStart"])),
        working_directory=Path(service["WorkingDirectory"]),
        restart=restart,
        restart_sec=float(service.get("RestartSec", "0.1")),
        start_limit_interval_sec=float(unit.get("StartLimitIntervalSec", "10")),
        start_limit_burst=int(unit.get("StartLimitBurst", "5")),
        timeout_stop_sec=float(service.get("TimeoutStopSec", "90")),
        kill_mode=kill_mode,
    )


def project_units(workers: int, host: Callable[[str], str], folder: Path = SYSTEMD) -> list[Unit]:
    """Every unit this project runs: one of each plain unit, `workers` instances of each template
    unit; `host(instance)` is the host name (%H) of each ("" for a plain unit)."""
    units = []
    for path in sorted(folder.glob("*.service")):
        instances = [str(n) for n in range(1, workers + 1)] if path.stem.endswith("@") else [""]
        units += [read_unit(path, host(instance), instance) for instance in instances]
    return units
