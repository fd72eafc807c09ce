"""Monitoring: the champion's training reference, drift, batch health, performance; reports.

Revision ID: 0010
Revises: 0005
"""

from alembic import op

revision = "0010"
down_revision = "0005"


def upgrade(schema: str) -> None:
    op.execute("""
    -- Each version's training reference: per model input, its bins (numeric: inner
    -- edges of the deciles; categorical: the categories) and each bin's share of the
    -- rows it was fitted on. Written once, when the version is registered.
    CREATE TABLE feature_reference (
        version        text NOT NULL REFERENCES model_versions,
        feature        text NOT NULL,
        kind           text NOT NULL CHECK (kind IN ('numeric', 'categorical')),
        bins           jsonb NOT NULL,
        shares         jsonb NOT NULL,
        PRIMARY KEY (version, feature)
    );

    -- Per scored date and model input: the population stability index against the
    -- reference of the champion that scored it.
    CREATE TABLE feature_drift (
        data_date          date NOT NULL,
        feature            text NOT NULL,
        psi                double precision NOT NULL,
        reference_version  text NOT NULL,
        breached           boolean NOT NULL,
        run_id             text NOT NULL,
        computed_at        timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (data_date, feature)
    );

    -- Per validated features partition, before scoring: volume against the trailing
    -- median, an exact re-delivery of the previous partition, columns stuck at one value.
    CREATE TABLE batch_health (
        data_date                date PRIMARY KEY,
        row_count                bigint NOT NULL,
        rows_vs_trailing_median  double precision,
        identical_to_previous    boolean NOT NULL,
        stuck_columns            text[] NOT NULL,
        breaches                 text[] NOT NULL,
        run_id                   text NOT NULL,
        checked_at               timestamptz NOT NULL DEFAULT now()
    );

    -- Per scored date whose labels have arrived: the metrics of its predictions.
    CREATE TABLE model_performance (
        data_date      date NOT NULL,
        metric         text NOT NULL,
        value          double precision NOT NULL,
        model_version  text NOT NULL,
        rows           bigint NOT NULL,
        breached       boolean NOT NULL,
        run_id         text NOT NULL,
        computed_at    timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (data_date, metric, model_version)
    );

    -- The HTML report of each training run.
    CREATE TABLE training_reports (
        version      text PRIMARY KEY REFERENCES model_versions,
        report_path  text NOT NULL,
        run_id       text NOT NULL,
        rendered_at  timestamptz NOT NULL DEFAULT now()
    );

    -- What a hyperparameter search tried, when the data scientists gave one.
    ALTER TABLE model_versions ADD COLUMN tuning jsonb;

    -- For analysts: one row per date, the features that drifted first.
    CREATE VIEW drift_by_date AS
        SELECT data_date, reference_version, max(psi) AS max_psi,
               coalesce(array_agg(feature ORDER BY psi DESC) FILTER (WHERE breached), '{}') AS drifted_features
        FROM feature_drift GROUP BY data_date, reference_version;

    CREATE VIEW batch_health_breaches AS
        SELECT * FROM batch_health WHERE cardinality(breaches) > 0;

    -- Each labelled date's metric next to what the same version scored on its holdout.
    CREATE VIEW performance_by_date AS
        SELECT p.data_date, p.metric, p.value, (v.metrics ->> p.metric)::double precision AS at_training,
               p.model_version, p.rows, p.breached
        FROM model_performance p JOIN model_versions v ON v.version = p.model_version;
    """)


def downgrade(schema: str) -> None:
    op.execute("""
    DROP VIEW performance_by_date, batch_health_breaches, drift_by_date;
    ALTER TABLE model_versions DROP COLUMN tuning;
    DROP TABLE training_reports, model_performance, batch_health, feature_drift, feature_reference;
    """)
