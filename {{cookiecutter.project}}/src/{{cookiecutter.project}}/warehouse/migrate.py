"""Apply the versioned warehouse migrations (Alembic) to the configured schema."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from .connection import connect

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring the warehouse schema to `revision`; a no-op when it is there already."""
    from alembic import command

    _run(settings, command.upgrade, revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Undo the migrations after `revision` ("base": all of them), newest first."""
    from alembic import command

    _run(settings, command.downgrade, revision)


def _run(settings: Settings, alembic_command, revision: str) -> None:
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # Alembic connects through `connect`: the same URL resolution and the same
    # WarehouseUnavailable as every other stage when the warehouse is down.
    engine = create_engine("postgresql+psycopg2://", creator=lambda: connect(settings), poolclass=NullPool)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            cfg.attributes.update(connection=conn, schema=settings.schema)
            alembic_command(cfg, revision)
    finally:
        engine.dispose()


if __name__ == "__main__":  # `make migrate`, and each deploy
    migrate(Settings.from_env())
