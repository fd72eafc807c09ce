"""The stages the DAGs call, by name: the one bridge between Airflow and the project.

Each stage is a plain function of (settings, data interval, run id). Failures that
a retry cannot fix (a bad batch, a corrupt model, no champion) become
AirflowFailException so Airflow fails the task at once instead of retrying it;
anything else (a lost connection) is left to the task's retries.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from . import scoring, training
from .config import Settings
from .extraction import ExtractError, extract
from .interval import Interval
from .model.contract import CONTRACT
from .registry import ModelUnavailable
from .scoring import PartitionNotValidated
from .sources import UnreadableFile
from .validation import ValidationFailed, validate

STAGES = {
    "extract_features": lambda s, i, r: extract(s, CONTRACT.features, i, r),
    "extract_labels": lambda s, i, r: extract(s, CONTRACT.labels, i, r),
    "validate_features": lambda s, i, r: validate(s, i, r).success,
    "predict": scoring.predict,
    "stage_training_window": training.stage_window,
    "train": training.train,
}
PERMANENT = (
    ExtractError,
    UnreadableFile,
    ValidationFailed,
    ModelUnavailable,
    PartitionNotValidated,
    training.NotEnoughData,
)


@cache
def settings() -> Settings:
    """Settings for this process. Migrations are a deploy step (`make migrate`), not a task's:
    the pipeline's writer role needs no DDL rights."""
    return Settings.from_env()


def run(stage: str, start: datetime, end: datetime, run_id: str):
    return _fail_fast(lambda: STAGES[stage](settings(), Interval(start, end), run_id))


def promote(trained: dict, run_id: str) -> dict:
    return _fail_fast(lambda: training.promote(settings(), trained, run_id))


def _fail_fast(call):
    try:
        return call()
    except PERMANENT as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
