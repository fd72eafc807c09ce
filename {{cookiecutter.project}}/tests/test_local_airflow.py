"""`make airflow-cli` (local_airflow.airflow_cli): the `airflow` command with the project's settings,
on a fresh state folder as on a fresh clone: no "Database migration required", the project's
DAGs."""

from __future__ import annotations

import os
import subprocess
import sys

from {{ cookiecutter.project }}.config import PROJECT_ROOT


def test_airflow_cli_runs_on_a_fresh_home_with_the_projects_settings(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")} | {"STATE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "{{ cookiecutter.project }}.local_airflow", "cli"]
    done = subprocess.run(
        [*command, "config", "get-value", "core", "dags_folder"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == str(PROJECT_ROOT / "dags")
    assert (tmp_path / "airflow" / "airflow.db").exists()  # migrated before the first command
