"""Daily: extract the interval's features, validate them, score them; stage the labels that arrived;
drop staged partitions past their retention.

Thin on purpose: the schedule and the wiring. Each task imports the project only
when it runs, so parsing this file stays fast. With SCORING_SHARDS=N (N > 1), N mapped
tasks score the date's rows by a hash of their key and one task publishes them.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable

from {{ cookiecutter.project }}.config import scoring_shards, start_date

SHARDS = scoring_shards()
DEFAULT_ARGS = {"owner": {{ cookiecutter.author_name | tojson }}, "retries": 2, "retry_delay": timedelta(minutes=5)}


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
    def score_shard(shard: int, data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("score_shard", data_interval_start, data_interval_end, run_id, shard=shard, shards=SHARDS)

    @task
    def publish_predictions(data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("publish_predictions", data_interval_start, data_interval_end, run_id, shards=SHARDS)

    @task
    def extract_labels(data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("extract_labels", data_interval_start, data_interval_end, run_id)

    @task
    def prune_staging(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
        from {{ cookiecutter.project }}.pipeline import run

        return run("prune_staging", data_interval_start, data_interval_end, run_id)

    validated = extract_features() >> validate_features()
    if SHARDS > 1:
        validated >> score_shard.expand(shard=list(range(SHARDS))) >> publish_predictions()
    else:
        validated >> predict()
    extract_labels()
    prune_staging()


daily_predictions()
