"""Daily: extract the interval's features, validate them, score them; stage the labels that arrived.

Thin on purpose: the schedule and the wiring. Each task imports the project only
when it runs, so parsing this file stays fast.
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
    dag_id="{{ cookiecutter.project }}_daily",
    # A data-interval timetable: each run covers [previous tick, tick), one partition.
    # Plain cron strings give Airflow 3 trigger timetables with empty intervals.
    schedule=CronDataIntervalTimetable("{{ cookiecutter.schedule }}", timezone="UTC"),
    start_date=start_date(),
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project }}", "scoring"],
    doc_md=__doc__,
)
def daily_predictions():
    @task
    def extract_features(data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("extract_features", data_interval_start, data_interval_end, run_id)

    @task
    def validate_features(data_interval_start=None, data_interval_end=None, run_id=None) -> bool:
        from {{ cookiecutter.project }}.pipeline import run

        return run("validate_features", data_interval_start, data_interval_end, run_id)

    @task
    def predict(data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("predict", data_interval_start, data_interval_end, run_id)

    @task
    def extract_labels(data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("extract_labels", data_interval_start, data_interval_end, run_id)

    extract_features() >> validate_features() >> predict()
    extract_labels()


daily_predictions()
