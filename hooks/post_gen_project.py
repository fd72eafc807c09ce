"""Post-generation hook: drop the source adapters the answers did not choose,
and what only those adapters use; drop what only the Celery executor uses.

Cookiecutter renders this file with Jinja and runs it with its own Python (so:
stdlib only) from the generated project's root.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path


def load_answers() -> dict:
    # Same pattern as in pre_gen_project.py (each hook runs alone from a temp file,
    # so they cannot share a module): answers are encoded as JSON twice and arrive
    # as data, never as code; unrendered, this still parses, so tests import it.
    return json.loads({{cookiecutter | tojson | tojson}})  # noqa: F821


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
    "queries": ("postgres",),  # the SQL files the postgres adapter runs
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
        target = root / path
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)


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


def main(answers: dict, root: Path) -> None:
    remove_unused_sources(root, answers["project"], answers["source_kind"])
    remove_unused_source_support(root, answers["project"], answers["source_kind"])
    remove_celery_files(root, answers["executor"])
    print(next_steps(root))


if __name__ == "__main__":
    main(load_answers(), Path.cwd())
