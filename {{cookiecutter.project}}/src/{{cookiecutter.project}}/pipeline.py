"""The stages the DAGs call, by name: the one bridge between Airflow and the project.

Each stage is a plain function of (settings, data interval, run id). A task imports
only the module of its stage, when it runs: extracting and validating never load
scikit-learn (seconds per task, and memory on every worker). Failures that a retry
cannot fix (a bad batch, a corrupt model, no champion: failures.PermanentFailure)
become AirflowFailException so Airflow fails the task at once instead of retrying
it; anything else (a lost connection) is left to the task's retries. A run started by an
asset event (a retrain that monitoring asked for) has no data interval: its stages
get the day that ended at the last midnight before the run. Each stage first records its run
in `airflow_runs` (runs.py), which the rows it writes name.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache
from importlib import import_module

from .config import Settings
from .failures import PermanentFailure
from .interval import Interval
from .runs import record_run

# stage -> (module, function) of this package
STAGES = {
    "extract_features": ("extraction", "extract_features"),
    "extract_labels": ("extraction", "extract_labels"),
    "validate_features": ("validation", "validate_features"),
    "check_batch": ("monitoring", "check_batch"),
    "predict": ("scoring", "predict"),
    "score_shard": ("scoring", "score_shard"),
    "publish_predictions": ("scoring", "publish_shards"),
    "monitor_drift": ("monitoring", "monitor_drift"),
    "track_performance": ("monitoring", "track_performance"),
    "request_retrain": ("monitoring", "retrain_requested"),
    "prune_staging": ("retention", "prune"),
    "stage_training_window": ("training", "stage_window"),
    "train": ("training", "train"),
}


@cache
def settings() -> Settings:
    """Settings for this process. Migrations are a deploy step (`make migrate`), not a task's:
    the pipeline's writer role needs no DDL rights."""
    return Settings.from_env()


def run(
    stage: str,
    start: datetime | None,
    end: datetime | None,
    run_id: str,
    run_after: datetime | None = None,
    **options,
):
    """Run `stage` for the interval [start, end) (or, without one, the day before `run_after`);
    `options` are the stage's own (a shard's number)."""
    from airflow.sdk import get_current_context

    interval = Interval(start, end) if start is not None else Interval.ending_by(run_after)
    record_run(settings(), get_current_context()["dag_run"])
    module, name = STAGES[stage]
    function = getattr(import_module(f"{__package__}.{module}"), name)
    return _fail_fast(lambda: function(settings(), interval, run_id, **options))


def report(trained: dict, run_id: str) -> str:
    from .reports import render_training_report

    return str(_fail_fast(lambda: render_training_report(settings(), trained, run_id)))


def promote(trained: dict, run_id: str, approval: dict | None = None) -> dict:
    from .training import promote

    return _fail_fast(lambda: promote(settings(), trained, run_id, approval))


def _fail_fast(call):
    try:
        return call()
    except PermanentFailure as exc:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(f"{type(exc).__name__}: {exc}") from exc
