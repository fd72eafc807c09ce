"""Lineage: the Airflow run behind each row, with its dates, and each prediction joined to it.

Revision ID: 0020
Revises: 0010
"""

from alembic import op

revision = "0020"
down_revision = "0010"


def upgrade(schema: str) -> None:
    # schema: a lowercase identifier checked by Settings, so it is safe to splice.
    op.execute(f"""
    -- One row per Airflow run that wrote to the warehouse (the run_id of every table names one),
    -- recorded by its tasks: what Airflow calls that run. data_date in every table is the day of
    -- data_interval_start; logical_date is Airflow's, the interval start for scheduled and
    -- backfill runs but its end for a manual run or `dag.test`. A run that an asset event
    -- started has no data interval (NULL).
    CREATE TABLE airflow_runs (
        dag_id               text NOT NULL,
        run_id               text NOT NULL,
        run_type             text NOT NULL,
        logical_date         timestamptz,
        data_interval_start  timestamptz,
        data_interval_end    timestamptz,
        recorded_at          timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (dag_id, run_id)
    );
    -- A record of what happened: the pipeline adds to it and changes nothing.
    REVOKE UPDATE, DELETE ON airflow_runs FROM "{schema}_writer";

    -- Each prediction with the daily run that wrote it: joined on the run, never on dates.
    CREATE VIEW prediction_lineage AS
        SELECT p.data_date, p.entity_id, p.score, p.model_version, p.predicted_at, p.run_id,
               r.dag_id, r.run_type, r.logical_date, r.data_interval_start, r.data_interval_end
        FROM predictions p
        LEFT JOIN airflow_runs r ON r.run_id = p.run_id AND r.dag_id = '{{ cookiecutter.project }}_daily';
    """)  # noqa: S608


def downgrade(schema: str) -> None:
    op.execute("""
    DROP VIEW prediction_lineage;
    DROP TABLE airflow_runs;
    """)
