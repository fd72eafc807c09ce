"""Template tests: the hooks on their own, then whole bakes through pytest-cookies."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.generate import generate_context
from cookiecutter.prompt import prompt_for_config

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
# cookiecutter() puts the template on sys.path while it runs, so that `_extensions`
# can name local_extensions; pytest-cookies and these tests also call
# prompt_for_config() directly, outside cookiecutter().
sys.path.insert(0, str(TEMPLATE_DIR))


def pytest_configure(config: pytest.Config) -> None:
    # pytest-cookies bakes --template, which defaults to the current directory:
    # point it at this checkout wherever pytest is started from.
    config.option.template = str(TEMPLATE_DIR)


def load_hook(name: str):
    """Import hooks/<name>.py as it stands in the template.

    Its one Jinja expression sits in load_answers(), which the tests never call on
    the raw file, so the validators and remove functions are tested directly.
    """
    spec = importlib.util.spec_from_file_location(
        name, TEMPLATE_DIR / "hooks" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def pre_gen():
    return load_hook("pre_gen_project")


@pytest.fixture(scope="session")
def post_gen():
    return load_hook("post_gen_project")


@pytest.fixture(scope="session")
def cookiecutter_json() -> dict:
    return json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))


@pytest.fixture
def default_answers() -> dict:
    """The answers of `cookiecutter --no-input`, rendered by cookiecutter itself."""
    context = generate_context(context_file=str(TEMPLATE_DIR / "cookiecutter.json"))
    return dict(prompt_for_config(context, no_input=True))


def run_make(
    project: Path, command: list[str], env: dict[str, str] | None = None
) -> str:
    """Run `command` (["make", target, ...]) in a rendered project; its stdout, or a
    failed assertion showing the end of both outputs. The project's Makefile makes its
    own venv: ours, and any warehouse the caller points at, must not leak into it."""
    inherited = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "WAREHOUSE_URL")
    }
    done = subprocess.run(
        command,
        check=False,  # the assertion below reports the output
        cwd=project,
        env=inherited | (env or {}),
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, (
        f"{' '.join(command)} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    )
    return done.stdout
