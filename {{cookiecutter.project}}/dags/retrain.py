"""Retrain: stage the labelled window, fit and evaluate, report, promote only through the gate.

Runs on its schedule, and whenever the daily DAG's monitoring asks for it (drift or
a performance breach, through the asset below). The gate lives in the data
scientists' `model/metrics.py`; with PROMOTION_APPROVAL=on a person approves each
promotion first, in the Airflow UI's Required Actions. This file only wires it.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Asset, AssetOrTimeSchedule, CronDataIntervalTimetable, dag, task

from {{ cookiecutter.project }}.config import promotion_approval, start_date

DEFAULT_ARGS = {
    "owner": {{ cookiecutter.author_name | python_string }},
    "retries": 2,
    "retry_delay": timedelta(minutes=5),
}
RETRAIN_REQUESTS = Asset("{{ cookiecutter.project }}_retrain_requests")


@dag(
    dag_id="{{ cookiecutter.project }}_retrain",
    schedule=AssetOrTimeSchedule(
        timetable=CronDataIntervalTimetable("{{ cookiecutter.retrain_schedule }}", timezone="UTC"),
        assets=[RETRAIN_REQUESTS],
    ),
    start_date=start_date(),
    catchup=False,  # as the daily DAG: unpausing never starts a run for every week since start_date
    max_active_runs=1,  # versions and promotions are decided one at a time
    default_args=DEFAULT_ARGS,
    tags=["{{ cookiecutter.project }}", "training"],
    doc_md=__doc__,
)
def retrain():
    # A run an asset event started has no data interval: its window ends at the last midnight.
    # Each task's dict is one XCom, used whole (promote takes train's result), not one
    # XCom per key: multiple_outputs says so rather than leaving Airflow to infer it.
    @task(multiple_outputs=False)
    def stage_training_window(data_interval_start=None, data_interval_end=None, run_id=None, dag_run=None):
        from {{ cookiecutter.project }}.pipeline import run

        return run("stage_training_window", data_interval_start, data_interval_end, run_id, dag_run.run_after)

    @task(multiple_outputs=False)
    def train(data_interval_start=None, data_interval_end=None, run_id=None, dag_run=None):
        from {{ cookiecutter.project }}.pipeline import run

        return run("train", data_interval_start, data_interval_end, run_id, dag_run.run_after)

    @task
    def render_report(trained: dict, run_id=None) -> str:
        from {{ cookiecutter.project }}.pipeline import report

        return report(trained, run_id)

    @task(multiple_outputs=False)
    def promote(trained: dict, approval: dict | None = None, run_id=None) -> dict:
        from {{ cookiecutter.project }}.pipeline import promote

        return promote(trained, run_id, approval)

    trained = train()
    stage_training_window() >> trained
    report = render_report(trained)
    if promotion_approval():
        from airflow.providers.standard.operators.hitl import HITLOperator

        approve_promotion = HITLOperator(
            task_id="approve_promotion",
            subject="Promote the retrained model?",
            body=(
                "The candidate is the `train` task's result in this run, its training report the"
                " `render_report` task's. Approving lets the gate decide; rejecting keeps the champion."
            ),
            options=["Approve", "Reject"],
            defaults=["Reject"],
            response_timeout=timedelta(days=3),
        )
        report >> approve_promotion
        promote(trained, approve_promotion.output)
    else:
        report >> promote(trained)


retrain()
