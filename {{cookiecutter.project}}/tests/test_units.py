"""The systemd units as data (infra/units.py): the one definition of each component's command and
restart policy, which systemd runs on the host and `make prod-local` runs here."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTALL = "/opt/{{ cookiecutter.project }}/current"


@pytest.fixture(scope="module")
def units():
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("infra.units")


def test_every_unit_restarts_always_within_start_limits(units):
    for unit in units.project_units(2, lambda instance: "host"):
        assert (unit.restart, unit.kill_mode) == ("always", "mixed"), unit.name
        # A crash loop hits the limit within the interval, however fast it crashes.
        burst = unit.start_limit_burst
        assert 1 < burst and unit.restart_sec * burst < unit.start_limit_interval_sec


def test_local_command_is_exec_start_in_this_checkout(units):
    scheduler = units.read_unit(units.SYSTEMD / "airflow-scheduler.service", "host")
    args = ["-m", "infra.db_env", "--", "airflow", "scheduler"]
    assert list(scheduler.command) == [f"{INSTALL}/.venv/bin/python", *args]
    assert scheduler.local_command(Path("/src/p")) == ["/src/p/.venv/bin/python", *args]


def test_no_unit_names_a_port(units):
    """Ports come from the configuration, so prod-local runs these same command lines on free ports."""
    for unit in units.project_units(2, lambda instance: "host"):
        assert not [arg for arg in unit.command if arg.startswith("--port") or arg.isdigit()], unit.name
{%- if cookiecutter.executor == "celery" %}


def test_each_worker_instance_has_its_own_celery_name(units):
    all_units = units.project_units(2, lambda instance: f"host{instance}")
    workers = [unit for unit in all_units if "@" in unit.name]
    assert [(unit.name, unit.command[-2:]) for unit in workers] == [
        ("airflow-celery-worker@1", ("--celery-hostname", "1@host1")),
        ("airflow-celery-worker@2", ("--celery-hostname", "2@host2")),
    ]
{%- endif %}


def test_a_specifier_not_emulated_is_refused(units, tmp_path):
    unit = tmp_path / "x.service"
    unit.write_text("[Unit]\n[Service]\nExecStart=/bin/echo %n\nWorkingDirectory=/\n")
    with pytest.raises(ValueError, match="specifier %n"):
        units.read_unit(unit, "host")
