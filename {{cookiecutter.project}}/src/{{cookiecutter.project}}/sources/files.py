"""Drop-folder source: one file per dataset and day, uploaded by SFTP or copied by hand.

Under SOURCE_DROP_DIR:

    <dataset>/<YYYY-MM-DD>.csv (or .parquet)   incoming, waiting to be extracted
    archive/<dataset>/                          staged files, moved here after the commit
    rejected/<dataset>/                         files that are not valid CSV / Parquet,
                                                each with a <name>.reason.txt beside it

Only that exact name is read, so an upload written under another name and then
renamed (as `publish` does) is never picked up half-written; an interval of several
days reads each day's file. A rerun of a day whose file was archived reads the
archived copy; a new upload for the day is read first. Files are moved, never
deleted: an archived file replaced by a newer one of the same day is kept as
<YYYY-MM-DD>.<replaced at>.csv.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from ..config import Settings
from ..datasets import Dataset
from ..interval import Interval
from . import SourceError, UnreadableFile, formats


class FileSource:
    def __init__(self, root: Path, chunk_rows: int):
        self.root, self.chunk_rows = root, chunk_rows
        self.description = f"files:{root}"
        self._staged: dict[tuple[str, Interval], list[tuple[Path, tuple]]] = {}  # read, for commit()

    def read(self, dataset: Dataset, interval: Interval) -> Iterator[pd.DataFrame]:
        staged = self._staged[(dataset.name, interval)] = []
        for day in interval.days():
            path = self.find(dataset, day)
            version = _version(path)
            try:
                yield from formats.read(path, dataset, self.chunk_rows, str(path))
            except UnreadableFile as exc:
                # Only a file whose content cannot be parsed is moved aside: a failure
                # elsewhere (the warehouse, a type error) leaves it for the rerun.
                raise UnreadableFile(f"{exc}; moved to {self.reject(path, dataset, str(exc))}") from exc
            except OSError as exc:
                raise SourceError(f"cannot read {path}: {exc}") from exc
            staged.append((path, version))

    def find(self, dataset: Dataset, day: date) -> Path:
        if not self.root.is_dir():
            raise SourceError(f"drop folder {self.root} does not exist (not created or not mounted?)")
        incoming = self.root / dataset.name
        for folder in (incoming, self.archive(dataset)):
            found = [folder / f"{day.isoformat()}{suffix}" for suffix in formats.SUFFIXES]
            # A link could point anywhere the pipeline may read: only plain files are data.
            links = [path for path in (folder, *found) if path.is_symlink()]
            if links:
                raise SourceError(f"{links[0]} is a symbolic link: the drop folder takes plain files only")
            found = [path for path in found if path.is_file()]
            if len(found) > 1:
                raise SourceError(f"both {found[0].name} and {found[1].name} in {folder}: keep one")
            if found:
                return found[0]
        raise SourceError(f"no file for {dataset.name} {day.isoformat()} in {incoming}")

    def archive(self, dataset: Dataset) -> Path:
        return self.root / "archive" / dataset.name

    def commit(self, dataset: Dataset, interval: Interval) -> None:
        """Archive the incoming files just staged, keeping any earlier archived version.

        A file replaced by a new upload since it was read is left for the next run.
        """
        for path, version in self._staged.pop((dataset.name, interval), []):
            if path.parent == self.root / dataset.name and _version(path) == version:
                target = self.archive(dataset) / path.name
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.exists():  # the name must stay free for the latest: reruns read it
                    target.rename(_unused(target))
                path.rename(target)

    def reject(self, path: Path, dataset: Dataset, reason: str) -> Path:
        target = self.root / "rejected" / dataset.name / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target = _unused(target) if target.exists() else target  # an earlier rejection keeps its name
        path.rename(target)
        target.with_name(f"{target.name}.reason.txt").write_text(reason + "\n", encoding="utf-8")
        return target

    def publish(self, dataset: Dataset, interval: Interval, frame: pd.DataFrame) -> None:
        """Drop the day's CSV as an uploader should: written under a temporary name, then renamed."""
        final = self.root / dataset.name / f"{interval.partition.isoformat()}.csv"
        final.parent.mkdir(parents=True, exist_ok=True)
        partial = final.with_name(f".{final.name}.part")
        partial.write_bytes(formats.csv_bytes(frame))
        os.replace(partial, final)


def _version(path: Path) -> tuple | None:
    """What tells this file from a new upload under the same name."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def _unused(path: Path) -> Path:
    """`path` with the current UTC time before its suffix, at a name no file has yet."""
    while True:
        stamped = path.with_name(f"{path.stem}.{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}{path.suffix}")
        if not stamped.exists():
            return stamped


def open_source(settings: Settings) -> FileSource:
    return FileSource(settings.drop_dir, settings.chunk_rows)
