"""Retrain: stage the labelled window, fit and evaluate, promote only through the gate.

The gate lives in the data scientists' `model/metrics.py`; this file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from {{ cookiecutter.project }}.config import start_date

DEFAULT_ARGS = {
    "owner": {{ cookiecutter.author_name | python_string }},
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}


@dag(
    dag_id="{{ cookiecutter.project }}_retrain",
    schedule=CronDataIntervalTimetable("{{ cookiecutter.retrain_schedule }}", timezone="UTC"),
    start_date=start_date(),
    catchup=False,
    max_active_runs=1,  # versions and promotions are decided one at a time
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project }}", "training"],
    doc_md=__doc__,
)
def retrain():
    # Each task's dict is one XCom, used whole (promote takes train's result), not one
    # XCom per key: multiple_outputs says so rather than leaving Airflow to infer it.
    @task(multiple_outputs=False)
    def stage_training_window(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
        from {{ cookiecutter.project }}.pipeline import run

        return run("stage_training_window", data_interval_start, data_interval_end, run_id)

    @task(multiple_outputs=False)
    def train(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
        from {{ cookiecutter.project }}.pipeline import run

        return run("train", data_interval_start, data_interval_end, run_id)

    @task(multiple_outputs=False)
    def promote(trained: dict, run_id=None) -> dict:
        from {{ cookiecutter.project }}.pipeline import promote

        return promote(trained, run_id)

    trained = train()
    stage_training_window() >> trained
    promote(trained)


retrain()
