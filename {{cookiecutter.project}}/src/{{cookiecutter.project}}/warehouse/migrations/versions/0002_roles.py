"""Roles: a read-only analyst role and a writer role for the pipeline.

Both are NOLOGIN groups: grant them to real login users (on RDS, from the master
user). Role names carry the schema, so several projects share one instance.

Revision ID: 0002
"""

from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade(schema: str) -> None:
    # schema: a lowercase identifier checked by Settings, so it is safe to splice.
    op.execute(f"""
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{schema}_analyst') THEN
            CREATE ROLE "{schema}_analyst" NOLOGIN;
        END IF;
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{schema}_writer') THEN
            CREATE ROLE "{schema}_writer" NOLOGIN;
        END IF;
    END $$;
    GRANT USAGE ON SCHEMA "{schema}" TO "{schema}_analyst", "{schema}_writer";
    GRANT SELECT ON ALL TABLES IN SCHEMA "{schema}" TO "{schema}_analyst";
    ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO "{schema}_analyst";
    GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{schema}_writer";
    GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{schema}_writer";
    ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}"
        GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "{schema}_writer";
    """)  # noqa: S608


def downgrade(schema: str) -> None:
    # The default privileges name the roles too: they go first, or DROP ROLE refuses.
    op.execute(f"""
    ALTER DEFAULT PRIVILEGES IN SCHEMA "{schema}" REVOKE ALL ON TABLES FROM "{schema}_analyst", "{schema}_writer";
    REVOKE ALL ON ALL TABLES IN SCHEMA "{schema}" FROM "{schema}_analyst", "{schema}_writer";
    REVOKE ALL ON ALL SEQUENCES IN SCHEMA "{schema}" FROM "{schema}_writer";
    REVOKE ALL ON SCHEMA "{schema}" FROM "{schema}_analyst", "{schema}_writer";
    DROP ROLE "{schema}_analyst", "{schema}_writer";
    """)  # noqa: S608
