"""History is append-only for the pipeline: the writer role adds model versions and decisions,
and changes nothing of them afterwards but a version's status (the champion switch).

Grants, not triggers: the writer role of 0002 loses UPDATE and DELETE on model_promotions and
model_versions, and keeps UPDATE on model_versions.status alone, which is all that
registry.decide and registry.rollback change (and what their SELECT ... FOR UPDATE needs). The
owner, the deploy's login that runs these migrations, keeps every right.

Revision ID: 0004
"""

from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade(schema: str) -> None:
    # schema: a lowercase identifier checked by Settings, so it is safe to splice.
    op.execute(f"""
    REVOKE UPDATE, DELETE ON model_promotions, model_versions FROM "{schema}_writer";
    GRANT UPDATE (status) ON model_versions TO "{schema}_writer";
    """)


def downgrade(schema: str) -> None:
    op.execute(f"""
    REVOKE UPDATE (status) ON model_versions FROM "{schema}_writer";
    GRANT UPDATE, DELETE ON model_promotions, model_versions TO "{schema}_writer";
    """)
