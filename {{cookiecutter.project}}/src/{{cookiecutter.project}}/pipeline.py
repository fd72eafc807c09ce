"""The stages the DAGs call, by name: the one bridge between Airflow and the project.

Each stage is a plain function of (settings, data interval, run id). Failures that
a retry cannot fix (a bad batch, a corrupt model, no champion) become
AirflowFailException so Airflow fails the task at once instead of retrying it;
anything else (a lost connection) is left to the task's retries. A run started by an
asset event (a retrain that monitoring asked for) has no data interval: its stages
get the day that ended at the last midnight before the run. Each stage first records its run
in `airflow_runs` (runs.py), which the rows it writes name.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

from . import monitoring, reports, scoring, training
from .config import Settings
from .extraction import ExtractError, extract
from .interval import Interval
from .model.contract import CONTRACT
from .registry import ModelUnavailable
from .runs import record_run
from .scoring import PartitionNotValidated
from .sources import UnreadableFile
from .validation import ValidationFailed, validate

STAGES = {
    "extract_features": lambda s, i, r: extract(s, CONTRACT.features, i, r),
    "extract_labels": lambda s, i, r: extract(s, CONTRACT.labels, i, r),
    "validate_features": lambda s, i, r: validate(s, i, r).success,
    "check_batch": monitoring.check_batch,
    "predict": scoring.predict,
    "monitor_drift": monitoring.monitor_drift,
    "track_performance": monitoring.track_performance,
    "request_retrain": monitoring.retrain_requested,
    "stage_training_window": training.stage_window,
    "train": training.train,
}
PERMANENT = (
    monitoring.BatchUnhealthy,
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


def run(
    stage: str, start: datetime | None, end: datetime | None, run_id: str, run_after: datetime | None = None
):
    from airflow.sdk import get_current_context

    interval = Interval(start, end) if start is not None else Interval.ending_by(run_after)
    record_run(settings(), get_current_context()["dag_run"])
    return _fail_fast(lambda: STAGES[stage](settings(), interval, run_id))


def report(trained: dict, run_id: str) -> str:
    return str(_fail_fast(lambda: reports.render_training_report(settings(), trained, run_id)))


def promote(trained: dict, run_id: str, approval: dict | None = None) -> dict:
    return _fail_fast(lambda: training.promote(settings(), trained, run_id, approval))


def _fail_fast(call):
    try:
        return call()
    except PERMANENT as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
