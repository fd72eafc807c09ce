"""Post-generation hook: drop the source adapters the answers did not choose,
and what only those adapters use; drop what only the Celery executor uses; record
where the project came from in `.cruft.json`, so that `make update` can bring later
template versions in.

Cookiecutter renders this file with Jinja and runs it with its own Python (so:
stdlib only) from the generated project's root.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path


def load_answers() -> dict:
    # Same pattern as in pre_gen_project.py (each hook runs alone from a temp file,
    # so they cannot share a module): answers are encoded as JSON twice and arrive
    # as data, never as code; unrendered, this still parses, so tests import it.
    return json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821


def load_template_dir() -> Path:
    # The template's absolute path (local_extensions.template_dir): `_repo_dir` may
    # be relative to a working directory this hook does not know.
    return Path(json.loads({{template_dir() | tojson | tojson}}))  # noqa: F821


SOURCE_KINDS = ("postgres", "s3", "files")


def source_files(project: str, source_kind: str) -> list[Path]:
    """The adapter module of one source kind and its test, relative to the project root."""
    return [
        Path("src", project, "sources", f"{source_kind}.py"),
        Path("tests", f"test_source_{source_kind}.py"),
    ]


def unused_source_files(project: str, source_kind: str) -> list[Path]:
    return [
        path
        for kind in SOURCE_KINDS
        if kind != source_kind
        for path in source_files(project, kind)
    ]


def remove_unused_sources(root: Path, project: str, source_kind: str) -> None:
    # missing_ok: a file the template does not ship needs no removal; the template's
    # exact-file-set test is what catches an adapter that was renamed.
    for path in unused_source_files(project, source_kind):
        (root / path).unlink(missing_ok=True)


# What the adapters share, under src/<project>/sources/, by the kinds that use it.
SOURCE_SUPPORT = {
    "formats.py": ("s3", "files"),  # CSV / Parquet reading
}


def unused_source_support(project: str, source_kind: str) -> list[Path]:
    return [
        Path("src", project, "sources", name)
        for name, kinds in SOURCE_SUPPORT.items()
        if source_kind not in kinds
    ]


def remove_unused_source_support(root: Path, project: str, source_kind: str) -> None:
    for path in unused_source_support(project, source_kind):
        (root / path).unlink(missing_ok=True)


def git(folder: Path, *args: str) -> str | None:
    """What a git command prints in folder, or None if it fails (no git, not a checkout)."""
    try:
        run = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return None
    return run.stdout.strip() if run.returncode == 0 else None


def template_source(answers: dict, template_dir: Path) -> str | None:
    """Where cruft finds the template again: the URL cookiecutter cloned, or the folder."""
    if answers.get("_template") == answers.get("_repo_dir"):  # a folder, not a clone
        return str(template_dir)
    return git(template_dir, "remote", "get-url", "origin")


def cruft_state(answers: dict, template: str, commit: str) -> dict:
    """What `cruft create` would have written: the template, its commit, the answers."""
    public = {key: value for key, value in answers.items() if not key.startswith("_")}
    return {
        "template": template,
        "commit": commit,
        "checkout": answers.get("_checkout"),
        "context": {
            "cookiecutter": public | {"_template": template, "_commit": commit}
        },
        "directory": None,
    }


def write_cruft_file(root: Path, state: dict) -> None:
    # cruft's own layout, so that its rewrite after an update changes only values.
    text = json.dumps(state, ensure_ascii=False, indent=2, separators=(",", ": "))
    (root / ".cruft.json").write_text(text + "\n", encoding="utf-8")


def record_template(answers: dict, root: Path, template_dir: Path) -> str:
    """Write .cruft.json; return a note for the user."""
    template = template_source(answers, template_dir)
    commit = git(template_dir, "rev-parse", "HEAD")
    if not (template and commit and (template_dir / "cookiecutter.json").is_file()):
        return (
            f"\nNo .cruft.json: {template_dir} is not a git checkout, so `make update`"
            " cannot find this version again. Link the project with `cruft link <url>`.\n"
        )
    write_cruft_file(root, cruft_state(answers, template, commit))
    if git(template_dir, "status", "--porcelain", "--untracked-files=no"):
        return (
            f"\nNote: the template has uncommitted changes; .cruft.json records commit"
            f" {commit[:12]}, which does not hold them.\n"
        )
    return ""


# What only executor=celery uses, relative to the project root.
CELERY_FILES = (Path("infra", "systemd", "airflow-celery-worker@.service"),)


def remove_celery_files(root: Path, executor: str) -> None:
    if executor != "celery":
        for path in CELERY_FILES:
            (root / path).unlink(missing_ok=True)


def next_steps(root: Path) -> str:
    # The absolute path is right whatever output directory (-o) was used.
    return (
        f"\nNext steps:\n  cd {shlex.quote(str(root))} && make install && make demo\n"
    )


def main(answers: dict, root: Path, template_dir: Path) -> None:
    remove_unused_sources(root, answers["project"], answers["source_kind"])
    remove_unused_source_support(root, answers["project"], answers["source_kind"])
    remove_celery_files(root, answers["executor"])
    # cruft (create, update) sets _commit, renders into temporary folders and
    # writes .cruft.json itself.
    if "_commit" not in answers:
        print(record_template(answers, root, template_dir) + next_steps(root))


if __name__ == "__main__":
    main(load_answers(), Path.cwd(), load_template_dir())
