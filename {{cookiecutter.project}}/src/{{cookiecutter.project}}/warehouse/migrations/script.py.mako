"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade(schema: str) -> None:
    op.execute("""
    """)


def downgrade(schema: str) -> None:
    op.execute("""
    """)
