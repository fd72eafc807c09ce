"""Daily: extract the interval's features, validate them, check the batch, score, watch for drift;
stage the labels that arrived and measure the predictions they label; drop staged partitions past
their retention. A drift or a performance breach asks the retrain DAG for a run
(model/monitoring.py says whether it may).

Thin on purpose: the schedule and the wiring. Each task imports the project only
when it runs, so parsing this file stays fast. With SCORING_SHARDS=N (N > 1), N mapped
tasks score the date's rows by a hash of their key and one task publishes them.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from {{ cookiecutter.project }}.config import scoring_shards, start_date

SHARDS = scoring_shards()
DEFAULT_ARGS = {
    "owner": {{ cookiecutter.author_name | python_string }},
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}
# Monitoring updates it to ask for a retrain; the retrain DAG is scheduled on it.
RETRAIN_REQUESTS = Asset("{{ cookiecutter.project }}_retrain_requests")


def stage(name: str, **options):
    """A task running pipeline stage `name` on the run's data interval; `options` are the stage's own."""

    @task(task_id=name)
    def run_stage(data_interval_start=None, data_interval_end=None, run_id=None):
        from {{ cookiecutter.project }}.pipeline import run

        return run(name, data_interval_start, data_interval_end, run_id, **options)

    return run_stage()


@dag(
    dag_id="{{ cookiecutter.project }}_daily",
    # A data-interval timetable: each run covers [previous tick, tick), one partition.
    # Plain cron strings give Airflow 3 trigger timetables with empty intervals.
    schedule=CronDataIntervalTimetable("{{ cookiecutter.schedule }}", timezone="UTC"),
    # The first data date (START_DATE): a run or backfill before it is refused, not run on no data.
    start_date=start_date(),
    # Unpausing runs the latest interval only, never every day since start_date: history is
    # loaded on purpose, by a backfill of the dates that have data (`make backfill`, the UI).
    catchup=False,
    max_active_runs=4,
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project }}", "scoring"],
    doc_md=__doc__,
)
def daily_predictions():
    # Emits the asset event only on a breach (else it is skipped). It runs after the checks
    # succeeded: a run whose batch failed stays failed, as its leaf task decides the run's state.
    @task(outlets=[RETRAIN_REQUESTS])
    def request_retrain(data_interval_start=None, data_interval_end=None, run_id=None) -> bool:
        from airflow.sdk.exceptions import AirflowSkipException

        from {{ cookiecutter.project }}.pipeline import run

        if not run("request_retrain", data_interval_start, data_interval_end, run_id):
            raise AirflowSkipException("no drift or performance breach asks for a retrain")
        return True

    # One of SHARDS mapped tasks: the date's rows whose key hashes to `shard`.
    @task
    def score_shard(shard: int, data_interval_start=None, data_interval_end=None, run_id=None) -> int:
        from {{ cookiecutter.project }}.pipeline import run

        return run("score_shard", data_interval_start, data_interval_end, run_id, shard=shard, shards=SHARDS)

    checked = stage("extract_features") >> stage("validate_features") >> stage("check_batch")
    if SHARDS > 1:
        shards = checked >> score_shard.expand(shard=list(range(SHARDS)))
        scored = shards >> stage("publish_predictions", shards=SHARDS)
    else:
        scored = checked >> stage("predict")
    drift = scored >> stage("monitor_drift")
    performance = [scored, stage("extract_labels")] >> stage("track_performance")
    [drift, performance] >> request_retrain()
    stage("prune_staging")


daily_predictions()
