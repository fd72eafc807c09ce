"""The release the host installs: `git archive` of a clean commit, with normalised modes.

Only what the commit tracks is shipped (no .env, state files or exports lying in the
working tree); owners, modes and times are the same on every build of a commit, so
its sha256 is too.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

from .plan import Refused


@dataclass(frozen=True)
class Release:
    commit: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def key(self) -> str:
        return f"releases/{self.commit}.tar.gz"


def _git(root: Path, *args: str) -> bytes:
    try:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        raise Refused(f"releases are built with git from a commit: {detail.decode().strip() or exc}") from exc


def build(root: Path) -> Release:
    """The project folder of HEAD as .tar.gz; refuses changes not committed yet."""
    changed = _git(root, "status", "--porcelain", "--untracked-files=no", "--", ".").decode()
    if changed:
        raise Refused(f"commit or stash these first, a release is a commit:\n{changed.rstrip()}")
    commit = _git(root, "rev-parse", "HEAD").decode().strip()
    folder = _git(root, "rev-parse", "--show-prefix").decode().strip()
    raw = _git(root, "archive", "--format=tar", f"HEAD:{folder}")
    # Archived from a tree, entries carry the time of archiving: the commit's time instead.
    return Release(commit, normalise(raw, int(_git(root, "log", "-1", "--format=%ct", "HEAD"))))


def normalise(tar_bytes: bytes, mtime: int) -> bytes:
    """Root-owned files 0644 (0755 if executable) and folders 0755, dated `mtime`; no links or devices."""
    out = io.BytesIO()
    with (
        tarfile.open(fileobj=io.BytesIO(tar_bytes)) as source,
        gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as target,
    ):
        for member in source.getmembers():
            if not (member.isfile() or member.isdir()):
                raise Refused(f"release: {member.name} is a link or special file; ship regular files only")
            executable = member.isdir() or member.mode & 0o111
            member.mode = 0o755 if executable else 0o644
            member.uid = member.gid = 0
            member.uname = member.gname = "root"
            member.mtime = mtime
            member.pax_headers = {}
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    return out.getvalue()
