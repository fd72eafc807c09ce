"""`make demo`: seed the demo source, then run the real DAGs through Airflow and show the SQL.

Runs the retrain DAG once, then the daily DAG for each scored day, with
`dag.test()` in this one process (the first run pays Airflow's start-up, the
rest are fast), and prints what an analyst would query.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, time, timedelta, timezone

from .config import Settings
from .demo_data import seed_source
from .local_airflow import configure, load_dags, run_once
from .warehouse import migrate, read_frame, transaction

FIRST_SCORED = date(2025, 3, 3)  # a Monday: the weekly retrain interval ends here
SCORED_DAYS = 12


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=timezone.utc)


def main() -> int:
    settings = Settings.from_env()
    configure(settings)
    migrate(settings)
    print(f"seeding the source: {settings.training_window_days} days of history, {SCORED_DAYS} days to score")
    seed_source(settings, FIRST_SCORED, SCORED_DAYS, settings.training_window_days)

    dags = load_dags()
    retrain, daily = (dags[f"{{ cookiecutter.project }}_{name}"] for name in ("retrain", "daily"))
    # dag.test(logical_date=X) runs the data interval that ends at X.
    run = run_once(retrain, midnight(FIRST_SCORED))
    print(f"retrain {FIRST_SCORED}: {run.state}")
    if run.state != "success":
        return 1
    for offset in range(SCORED_DAYS):
        day = FIRST_SCORED + timedelta(days=offset)
        run = run_once(daily, midnight(day + timedelta(days=1)))
        print(f"daily {day}: {run.state}")
    report(settings)
    return 0


def report(settings: Settings) -> None:
    with transaction(settings) as conn:
        champion = read_frame(conn, "SELECT * FROM champion_history")
        failed = read_frame(conn, """SELECT logical_date, row_count, failures, report_path FROM partition_status
                                     WHERE dataset = 'customer_snapshots' AND success = false
                                       AND logical_date >= %s ORDER BY logical_date""", (FIRST_SCORED,))
        predictions = read_frame(conn, """
            SELECT logical_date, count(*) AS rows, min(model_version) AS model_version,
                   min(predicted_at) AS first_predicted_at, max(predicted_at) AS last_predicted_at
            FROM predictions GROUP BY logical_date ORDER BY logical_date""")
    print("\nChampion history:")
    print(champion[["decided_at", "action", "version", "reason"]].to_string(index=False))
    print("\nDates stopped by the validation gate (nothing scored):")
    for row in failed.itertuples():
        print(f"  {row.logical_date}  rows={row.row_count}  report: {row.report_path}")
        for failure in json.loads(row.failures):
            print(f"      {failure['expectation']}({failure['column'] or ''}): "
                  f"{failure['unexpected_count']} bad, e.g. {failure['sample_values']}")
    print("\nPredictions per date (SELECT ... FROM predictions GROUP BY logical_date):")
    print(predictions.to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
