"""Warehouse tables: batches, validation runs, model registry, predictions.

The staging tables of the datasets follow the data contract (model/contract.py) and
come from migrations that `make migration` generates from it.

Revision ID: 0001
"""

from alembic import op

revision = "0001"
down_revision = None


def upgrade(schema: str) -> None:
    op.execute("""
    -- What each extraction saw: the source's own column list shows schema drift.
    CREATE TABLE staging_batches (
        dataset        text NOT NULL,
        data_date      date NOT NULL,
        row_count      bigint NOT NULL,
        source_columns text[] NOT NULL,
        source         text NOT NULL,
        run_id         text NOT NULL,
        extracted_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (dataset, data_date)
    );

    CREATE TABLE validation_runs (
        data_date      date NOT NULL,
        suite          text NOT NULL,
        run_id         text NOT NULL,
        success        boolean NOT NULL,
        row_count      bigint NOT NULL,
        evaluated      integer NOT NULL,
        failed         integer NOT NULL,
        failures       jsonb NOT NULL,
        report_path    text,
        validated_at   timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (data_date, suite, run_id)
    );

    -- Each staged partition with its latest validation since it was extracted:
    -- success is NULL until validated, and only success = true may be scored or trained on.
    CREATE VIEW partition_status AS
        SELECT b.dataset, b.data_date, b.row_count, b.extracted_at,
               v.success, v.failed, v.failures, v.report_path, v.validated_at, v.run_id AS validation_run_id
        FROM staging_batches b
        LEFT JOIN LATERAL (
            SELECT * FROM validation_runs v
            WHERE v.suite = b.dataset AND v.data_date = b.data_date AND v.validated_at >= b.extracted_at
            ORDER BY v.validated_at DESC LIMIT 1
        ) v ON true;

    CREATE TABLE model_versions (
        version        text PRIMARY KEY,
        created_at     timestamptz NOT NULL DEFAULT now(),
        model_kind     text NOT NULL,
        code_version   text NOT NULL,
        train_start    date NOT NULL,
        train_end      date NOT NULL,
        train_rows     bigint NOT NULL,
        metrics        jsonb NOT NULL,
        artifact_uri   text NOT NULL,
        sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        status         text NOT NULL CHECK (status IN ('candidate', 'champion', 'retired', 'rejected')),
        run_id         text NOT NULL
    );
    -- At most one champion at any time.
    CREATE UNIQUE INDEX model_versions_one_champion ON model_versions (status) WHERE status = 'champion';

    CREATE TABLE model_promotions (
        id             bigserial PRIMARY KEY,
        version        text NOT NULL REFERENCES model_versions,
        previous       text REFERENCES model_versions,
        action         text NOT NULL CHECK (action IN ('promote', 'reject', 'rollback')),
        reason         text NOT NULL,
        run_id         text NOT NULL,
        decided_at     timestamptz NOT NULL DEFAULT now()
    );

    -- entity_id takes the type of the contract's key: a generated migration changes it.
    CREATE TABLE predictions (
        data_date      date NOT NULL,
        entity_id      bigint NOT NULL,
        score          double precision NOT NULL,
        model_version  text NOT NULL REFERENCES model_versions,
        predicted_at   timestamptz NOT NULL,
        run_id         text NOT NULL,
        PRIMARY KEY (data_date, entity_id)
    );
    CREATE INDEX ON predictions (model_version);

    CREATE VIEW latest_predictions AS
        SELECT DISTINCT ON (entity_id) *
        FROM predictions
        ORDER BY entity_id, data_date DESC;

    CREATE VIEW champion_history AS
        SELECT p.decided_at, p.action, p.version, p.previous, p.reason, v.metrics, p.run_id
        FROM model_promotions p JOIN model_versions v USING (version)
        WHERE p.action IN ('promote', 'rollback')
        ORDER BY p.decided_at;
    """)


def downgrade(schema: str) -> None:
    op.execute("""
    DROP VIEW champion_history, latest_predictions, partition_status;
    DROP TABLE predictions, model_promotions, model_versions, validation_runs, staging_batches;
    """)
