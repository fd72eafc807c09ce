"""`make demo`: seed the demo source, then run the real DAGs through Airflow and show the SQL.

Runs the retrain DAG once, then the daily DAG for each scored day, with
`dag.test()` in this one process (the first run pays Airflow's start-up, the
rest are fast), and prints what an analyst would query. Its runs go to an Airflow
home of their own (STATE_DIR/demo-airflow), not to the one `make airflow` serves:
`dag.test` names a run after the end of its interval and dates its start at its
logical date, so in the operator's UI they would show the wrong dates and durations
of months, and a backfill of those dates would skip them as already run.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, date, datetime, time, timedelta

from .config import SOURCE_KIND, Settings
from .demo_data import DEFECTS, WHOLE_NUMBERS_COLUMN, WHOLE_NUMBERS_DAY, is_the_contract, seed_source
from .local_airflow import configure, load_dags, output_to, run_day, run_once
from .model import metrics, window
from .model.contract import CONTRACT
from .sources import open_source
from .warehouse import migrate, read_frame, transaction

FIRST_SCORED = date(2025, 3, 3)  # a Monday: the weekly retrain interval ends here
SCORED_DAYS = 16


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def main() -> int:
    settings = Settings.from_env()
    configure(settings, home=settings.state_dir / "demo-airflow")
    migrate(settings)
    simulate_s3_if_unconfigured(settings)
    history = settings.training_window_days or window.WINDOW_DAYS
    print(f"seeding the source: {history} days of history, {SCORED_DAYS} days to score")
    seed_source(settings, FIRST_SCORED, SCORED_DAYS, history)

    log = settings.state_dir / "demo-airflow.log"
    print(f"running the DAGs through Airflow (task logs: {log})")
    with output_to(log):
        dags = load_dags()
    retrain = dags["{{ cookiecutter.project }}_retrain"]
    daily = dags["{{ cookiecutter.project }}_daily"]
    # run_once(dag, X) runs the data interval that ends at X.
    with output_to(log):
        run = run_once(retrain, midnight(FIRST_SCORED))
    print(f"  retrain  window ending {FIRST_SCORED}: {run.state}")
    if run.state != "success":
        return 1
    for offset in range(SCORED_DAYS):
        day = FIRST_SCORED + timedelta(days=offset)
        with output_to(log):
            run = run_day(daily, day)
        print(f"  daily    {day}: {run.state}")
    report(settings)
    return 0


def simulate_s3_if_unconfigured(settings: Settings) -> None:
    """Serve the demo's S3 source from moto on 127.0.0.1, in this process, when none is configured.

    Only with SOURCE_S3_URI at its default and no S3 endpoint set: the default bucket
    name is not the user's (bucket names are global), so the demo never writes to
    real S3 unless told where. moto is a dev dependency, as the demo is.
    """
    endpoint_set = {"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"} & os.environ.keys()
    if SOURCE_KIND != "s3" or "SOURCE_S3_URI" in os.environ or endpoint_set:
        return
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # else a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # a daemon thread: it ends with the demo, and its data with it
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    # Every boto3 client of this process and of Airflow's task processes uses it.
    os.environ.update(AWS_ENDPOINT_URL_S3=endpoint, AWS_ACCESS_KEY_ID="demo", AWS_SECRET_ACCESS_KEY="demo")
    open_source(settings).create_bucket()
    print(
        f"S3 IS SIMULATED: {settings.s3_source_uri} lives in moto at {endpoint}, for this run only"
        " (set SOURCE_S3_URI, and AWS credentials, to use a real bucket)"
    )


def report(settings: Settings) -> None:
    with transaction(settings) as conn:
        champion = read_frame(conn, "SELECT * FROM champion_history")
        failed = read_frame(
            conn,
            """SELECT data_date, row_count, failures, report_path FROM partition_status
               WHERE dataset = %s AND success = false AND data_date >= %s ORDER BY data_date""",
            (CONTRACT.features.name, FIRST_SCORED),
        )
        predictions = read_frame(
            conn,
            """
            SELECT data_date, count(*) AS rows, min(model_version) AS model_version,
                   min(predicted_at) AS first_predicted_at, max(predicted_at) AS last_predicted_at
            FROM predictions GROUP BY data_date ORDER BY data_date""",
        )
    print("\nChampion history:")
    print(champion[["decided_at", "action", "version", "reason"]].to_string(index=False))
    print("\nDates stopped by the validation gate (nothing scored):")
    for row in failed.itertuples():
        defect = DEFECTS.get((date.fromisoformat(row.data_date) - FIRST_SCORED).days)
        planted = f"  (planted by the demo: {defect[0]})" if defect else ""
        print(f"  {row.data_date}  rows={row.row_count}{planted}")
        for failure in json.loads(row.failures):
            where = f" on {failure['column']}" if failure["column"] else ""
            print(
                f"    {failure['expectation']}{where}: {failure['message']}, e.g. {failure['sample_values'][:5]}"
            )
        print(f"    report: {row.report_path}")
    if is_the_contract():
        whole = FIRST_SCORED + timedelta(days=WHOLE_NUMBERS_DAY)
        print(
            f"\n{whole}: every {WHOLE_NUMBERS_COLUMN} is a whole number that day; still a float column, it passed."
        )
    print("\nPredictions per date (SELECT ... FROM predictions GROUP BY data_date):")
    print(predictions.to_string(index=False))
    report_monitoring(settings)


def report_monitoring(settings: Settings) -> None:
    with transaction(settings) as conn:
        health = read_frame(conn, "SELECT data_date, breaches FROM batch_health_breaches ORDER BY data_date")
        drift = read_frame(
            conn,
            """SELECT data_date, round(max_psi::numeric, 3) AS max_psi, drifted_features
               FROM drift_by_date ORDER BY data_date""",
        )
        performance = read_frame(
            conn,
            """SELECT data_date, metric, round(value::numeric, 4) AS value, round(at_training::numeric, 4) AS at_training,
                      rows, breached FROM performance_by_date WHERE metric = %s ORDER BY data_date""",
            (metrics.PRIMARY,),
        )
        reports = read_frame(conn, "SELECT version, report_path FROM training_reports ORDER BY rendered_at")
    print("\nBatch health breaches (SELECT * FROM batch_health_breaches): nothing was scored those days")
    for row in health.itertuples():
        print(f"  {row.data_date}  {row.breaches}")
    print("\nFeature drift per scored date (SELECT * FROM drift_by_date):")
    print(drift.to_string(index=False))
    print(f"\nModel performance once the labels arrived, {metrics.PRIMARY} (view performance_by_date):")
    print(performance.to_string(index=False))
    print("\nTraining reports (SELECT * FROM training_reports):")
    for row in reports.itertuples():
        print(f"  {row.version}: {row.report_path}")


if __name__ == "__main__":
    sys.exit(main())
