"""A project made from an older template version is updated to this one with `make update`.

The older version is made here, in a scratch repository holding this checkout's
files: a commit of this template with a line added at the top of model/features.py
and without .pre-commit-config.yaml, then a commit of this template as it is. A
project rendered from the first commit is committed, edited the way a data scientist
edits it (model/), and updated to the second commit by its own `make update` (cruft).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = Path("{{cookiecutter.project}}")
FEATURES = Path("src", "churn_forecast", "model", "features.py")
TEMPLATE_FEATURES = PROJECT_DIR / "src" / PROJECT_DIR / "model" / "features.py"
PRE_COMMIT = PROJECT_DIR / ".pre-commit-config.yaml"
OLD_LINE = "# Wording of an older template version.\n"
USER_EDIT = "\n\n# Tuned by the data science team.\nCHURN_HORIZON_DAYS = 30\n"
# Git without the user's configuration, with an identity for the scratch commits.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_SYSTEM": os.devnull,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def run(args: list, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    # The project's Makefile makes its own venv; don't let ours leak into it.
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"} | GIT_ENV
    args = [str(arg) for arg in args]
    proc = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )
    if check:
        assert proc.returncode == 0, (
            f"{args}:\n{proc.stdout[-4000:]}{proc.stderr[-4000:]}"
        )
    return proc


def commit_all(repo: Path, message: str) -> str:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", message], repo)
    return run(["git", "rev-parse", "HEAD"], repo).stdout.strip()


def copy_checkout(target: Path) -> None:
    """This checkout's files as they are now, committed or not (never .git)."""
    listed = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    for name in run(listed, TEMPLATE_DIR).stdout.split("\0"):
        source = TEMPLATE_DIR / name
        if name and source.is_file():  # skips files deleted but not yet committed
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    """The scratch template repository, its two commits, a project made from the older."""
    root = tmp_path_factory.mktemp("update")
    template = root / "template"
    copy_checkout(template)
    features = (template / TEMPLATE_FEATURES).read_text()
    hooks = (template / PRE_COMMIT).read_text()

    run(["git", "init", "-q", "-b", "main"], template)
    (template / TEMPLATE_FEATURES).write_text(OLD_LINE + features)
    (template / PRE_COMMIT).unlink()
    old = commit_all(template, "older template")
    cookiecutter = Path(sys.executable).parent / "cookiecutter"
    run([cookiecutter, "--no-input", "-o", root, template], root)
    # The venv `make update` runs cruft from (with uv), made once for every copy.
    run(["make", ".venv/bin/activate"], root / "churn_forecast")

    (template / TEMPLATE_FEATURES).write_text(features)
    (template / PRE_COMMIT).write_text(hooks)
    new = commit_all(template, "this template")
    return {"root": root, "old": old, "new": new, "features": features}


@pytest.fixture
def project(history, tmp_path) -> Path:
    """A copy of the project made from the older version, committed as a user would."""
    project = tmp_path / "churn_forecast"
    shutil.copytree(history["root"] / "churn_forecast", project, symlinks=True)
    run(["git", "init", "-q", "-b", "main"], project)
    commit_all(project, "new project from the template")
    return project


def test_project_records_the_template_and_commit_it_came_from(history, project):
    state = json.loads((project / ".cruft.json").read_text())
    assert state["template"] == str(history["root"] / "template")
    assert state["commit"] == history["old"]
    assert state["context"]["cookiecutter"]["project"] == "churn_forecast"


def test_update_keeps_the_users_edit_and_the_project_passes(history, project):
    with (project / FEATURES).open("a") as features:
        features.write(USER_EDIT)
    commit_all(project, "model: churn horizon")

    update = run(["make", "update"], project)
    print(update.stdout)  # the update's output, shown with `pytest -s`

    # The template's change (its top line gone) and the user's edit, merged.
    assert (project / FEATURES).read_text() == history["features"] + USER_EDIT
    assert (project / ".pre-commit-config.yaml").is_file()  # new in this version
    assert json.loads((project / ".cruft.json").read_text())["commit"] == history["new"]
    assert "Conflicts" not in update.stdout
    # Cheap on purpose: the project's lint, and the tests of the data scientists'
    # contract, which are what an edit of model/ can break; the full suite of a
    # rendered project runs in test_generated_project.py.
    run(["make", "install", "lint"], project)
    python = project / ".venv" / "bin" / "python"
    contract = [
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests/test_model_contract.py",
    ]
    print(run([python, *contract], project).stdout[-200:])


def test_update_lists_conflicts_and_fails(history, project):
    """The user rewrote the very line the newer template changes."""
    text = (project / FEATURES).read_text().replace(OLD_LINE, "# Our own wording.\n")
    (project / FEATURES).write_text(text)
    commit_all(project, "model: our wording")

    update = run(["make", "update"], project, check=False)
    assert update.returncode != 0
    listed = f"Conflicts to resolve (<<<<<<< markers, or .rej files):\n{FEATURES}\n"
    assert listed in update.stdout
    assert "<<<<<<<" in (project / FEATURES).read_text()
