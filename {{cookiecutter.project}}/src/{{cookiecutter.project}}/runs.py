"""The Airflow runs behind the warehouse's rows: one row of `airflow_runs` per run, for lineage.

Every table's run_id names a run; this records what Airflow calls it (its DAG, type, logical
date and data interval), so that an analyst joins a row to its run on the run, never on dates
that mean different things for different kinds of run.
"""

from __future__ import annotations

from .config import Settings
from .warehouse import transaction


def record_run(settings: Settings, dag_run) -> None:
    """Record `dag_run` (Airflow's, from the task's context) once; later calls change nothing."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO airflow_runs (dag_id, run_id, run_type, logical_date, data_interval_start,
                                         data_interval_end)
               VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (dag_id, run_id) DO NOTHING""",
            (
                dag_run.dag_id,
                dag_run.run_id,
                getattr(dag_run.run_type, "value", dag_run.run_type),  # an enum in Airflow's models
                dag_run.logical_date,
                dag_run.data_interval_start,
                dag_run.data_interval_end,
            ),
        )
