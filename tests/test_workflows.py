"""CI: the template's workflow and each project's, and the project's pre-commit config.

Workflows call Makefile targets only, and only targets that .ci/run exercises, so a
green CI here means a green CI on GitHub for the same reasons.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE_WORKFLOWS = sorted((TEMPLATE_DIR / ".github" / "workflows").glob("*.yml"))
PROJECT_WORKFLOW = Path(".github", "workflows", "ci.yml")
PINNED = re.compile(r"^([\w.-]+)==(\S+)$", re.MULTILINE)
BIN = Path(sys.executable).parent  # the template's venv: actionlint, pre-commit


def make_targets(script: str) -> set[str]:
    """The targets of every `make ...` command in a shell script."""
    targets = set()
    for command in re.findall(r"^\s*make\b([^;&|#\n]*)", script, re.MULTILINE):
        targets.update(w for w in command.split() if "=" not in w and w[0] != "-")
    return targets


def workflow_targets(path: Path) -> set[str]:
    workflow = yaml.safe_load(path.read_text(encoding="utf-8"))
    runs = [
        step.get("run", "")
        for job in workflow["jobs"].values()
        for step in job["steps"]
    ]
    return make_targets("\n".join(runs))


def targets_run_in_projects() -> set[str]:
    """What .ci/run exercises inside rendered projects: the `["make", ...]` lists of
    test_generated_project.py (add a target there to let the workflow call it)."""
    tree = ast.parse((TEMPLATE_DIR / "tests" / "test_generated_project.py").read_text())
    targets = set()
    for node in ast.walk(tree):
        words = [
            e.value for e in getattr(node, "elts", []) if isinstance(e, ast.Constant)
        ]
        if isinstance(node, ast.List) and words[:1] == ["make"]:
            targets.update(words[1:])
    return targets


def pins(text: str) -> dict[str, str]:
    return dict(PINNED.findall(text))


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    from cookiecutter.main import cookiecutter

    out = tmp_path_factory.mktemp("workflows")
    return Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=str(out)))


def actionlint(*paths: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [BIN / "actionlint", *paths],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_template_ships_a_workflow():
    assert [p.name for p in TEMPLATE_WORKFLOWS] == ["test.yml"]


def test_workflows_pass_actionlint(project):
    run = actionlint(*TEMPLATE_WORKFLOWS, project / PROJECT_WORKFLOW)
    assert run.returncode == 0, run.stdout + run.stderr


def test_actionlint_catches_a_broken_workflow(tmp_path):
    """The linter is live: an undefined expression property and a retired action fail."""
    broken = tmp_path / "broken.yml"
    broken.write_text(
        "on: push\njobs:\n  j:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - uses: actions/checkout@v2\n      - run: echo ${{ github.evnt }}\n"
    )
    run = actionlint(broken)
    assert run.returncode == 1
    assert "evnt" in run.stdout and "actions/checkout@v2" in run.stdout


def test_template_workflow_calls_only_what_ci_runs():
    ci = make_targets((TEMPLATE_DIR / ".ci" / "run").read_text())
    for workflow in TEMPLATE_WORKFLOWS:
        assert workflow_targets(workflow) == ci


def test_project_workflow_calls_only_what_the_template_tests_run(project):
    called = workflow_targets(project / PROJECT_WORKFLOW)
    assert called == {"lint", "test", "evaluate"}
    assert called <= targets_run_in_projects()
    makefile = (project / "Makefile").read_text()
    for target in called:
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target


def test_project_workflow_runs_the_projects_python(cookies):
    result = cookies.bake(extra_context={"python_version": "3.12"})
    workflow = yaml.safe_load((result.project_path / PROJECT_WORKFLOW).read_text())
    setup = next(
        s
        for s in workflow["jobs"]["check"]["steps"]
        if "python-version" in s.get("with", {})
    )
    assert setup["with"]["python-version"] == "3.12"


def test_pre_commit_and_update_use_the_pinned_tools(project):
    """One version of each tool: the project's ruff in its hooks and in the template's
    property tests, which lint rendered projects; the template's cookiecutter in cruft."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    hook_pins = {}
    for hook in config["repos"][0]["hooks"]:
        hook_pins |= pins("\n".join(hook["additional_dependencies"]))
    assert set(hook_pins) == {"ruff", "nbstripout"}
    template = pins((TEMPLATE_DIR / "requirements.txt").read_text())
    ruff = pins((project / "constraints.txt").read_text())["ruff"]
    assert hook_pins["ruff"] == template["ruff"] == ruff
    makefile = (project / "Makefile").read_text()
    assert f"cookiecutter=={template['cookiecutter']}" in makefile


NOTEBOOK = {
    "cells": [
        {
            "cell_type": "code",
            "execution_count": 3,
            "metadata": {},
            "outputs": [{"name": "stdout", "output_type": "stream", "text": ["42\n"]}],
            "source": ["print(6 * 7)"],
        }
    ],
    "metadata": {},
    "nbformat": 4,
    "nbformat_minor": 5,
}


def git(project: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=project,
        check=True,
        capture_output=True,
    )


def test_pre_commit_passes_a_new_project_and_strips_notebook_outputs(cookies):
    """First run: ruff finds nothing to change, nbstripout strips the outputs (and so
    fails, as pre-commit does when a hook changes a file); second run: clean."""
    project = cookies.bake().project_path
    notebook = project / "notebooks" / "explore.ipynb"  # the project's own, executed
    notebook.write_text(json.dumps(NOTEBOOK, indent=1))
    git(project, "init", "-q")
    git(project, "add", "-A")

    def pre_commit() -> subprocess.CompletedProcess:
        return subprocess.run(
            [BIN / "pre-commit", "run", "--all-files"],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    first = pre_commit()
    assert first.returncode == 1, first.stdout
    assert re.search(r"ruff check\.+Passed", first.stdout), first.stdout
    assert re.search(r"ruff format\.+Passed", first.stdout), first.stdout
    assert re.search(r"strip notebook outputs\.+Failed", first.stdout), first.stdout
    cell = json.loads(notebook.read_text())["cells"][0]
    assert (cell["outputs"], cell["execution_count"]) == ([], None)
    git(project, "add", "-A")
    second = pre_commit()
    assert second.returncode == 0, second.stdout
