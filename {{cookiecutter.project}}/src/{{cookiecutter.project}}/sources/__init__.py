"""Extraction adapters. Each reads one dataset for one data interval, in chunks.

The project keeps only the adapter chosen at generation time (`source_kind`).
An adapter module exposes `open_source(settings) -> Source`.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Protocol

import pandas as pd

from ..config import SOURCE_KIND, Settings
from ..datasets import Dataset
from ..failures import PermanentFailure
from ..interval import Interval


class SourceError(RuntimeError):
    """The source could not be read or parsed; nothing was staged."""


class UnreadableFile(PermanentFailure, SourceError):
    """A file's content cannot be parsed: retrying reads the same bytes, so it fails at once."""


class Source(Protocol):
    description: str  # where the data came from, recorded with each staged batch

    def read(self, dataset: Dataset, interval: Interval) -> Iterator[pd.DataFrame]:
        """Yield the interval's rows in chunks of bounded size.

        Yields at least one frame, empty if the interval has no rows, so the
        caller always learns the source's column names.
        """

    def commit(self, dataset: Dataset, interval: Interval) -> None:
        """Called once the staged rows are committed (e.g. to archive a file)."""

    def publish(self, dataset: Dataset, interval: Interval, frame: pd.DataFrame) -> None:
        """Write a batch as the upstream system would: used by the demo and the tests."""


def open_source(settings: Settings) -> Source:
    module = importlib.import_module(f"{__name__}.{SOURCE_KIND}")
    return module.open_source(settings)
