"""CHANGELOG.md: every release says what a generated project must do when updating,
and every release tag has its section."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
UPDATING = "### Updating a generated project"


def sections() -> dict[str, str]:
    """Release version (or 'Unreleased') -> the text of its section."""
    text = (TEMPLATE_DIR / "CHANGELOG.md").read_text(encoding="utf-8")
    parts = re.split(r"^## (\S+).*$", text, flags=re.MULTILINE)
    return dict(zip(parts[1::2], parts[2::2]))


def test_releases_are_newest_first_and_each_says_how_to_update():
    first, *releases = sections()
    assert first == "Unreleased"
    assert releases, "no release section"
    as_numbers = [tuple(map(int, version.split("."))) for version in releases]
    assert as_numbers == sorted(as_numbers, reverse=True)
    for version in releases:
        assert UPDATING in sections()[version], version


def test_every_release_tag_has_a_section():
    tags = subprocess.run(
        ["git", "tag", "--list", "v*"],
        cwd=TEMPLATE_DIR,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {tag.removeprefix("v") for tag in tags} <= set(sections())
