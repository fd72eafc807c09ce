"""Apply the versioned warehouse migrations (Alembic) to the configured schema."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import Settings
from .connection import connect

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(settings: Settings, revision: str = "head", migrations: Path = MIGRATIONS) -> None:
    """Bring the warehouse schema to `revision`; a no-op when it is there already."""
    from alembic import command

    with alembic_config(settings, migrations) as cfg:
        command.upgrade(cfg, revision)


def downgrade(settings: Settings, revision: str) -> None:
    """Undo the migrations after `revision` ("base": all of them), newest first."""
    from alembic import command

    with alembic_config(settings) as cfg:
        command.downgrade(cfg, revision)


@contextmanager
def alembic_config(settings: Settings, migrations: Path = MIGRATIONS) -> Iterator:
    """An Alembic Config whose `migrations` run on one connection to the settings' schema."""
    from alembic.config import Config
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    # Alembic connects through `connect`: the same URL resolution and the same
    # WarehouseUnavailable as every other stage when the warehouse is down.
    engine = create_engine("postgresql+psycopg2://", creator=lambda: connect(settings), poolclass=NullPool)
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations))
    try:
        with engine.connect() as conn:
            cfg.attributes.update(connection=conn, schema=settings.schema)
            yield cfg
    finally:
        engine.dispose()


if __name__ == "__main__":  # `make migrate`, and each deploy
    migrate(Settings.from_env())
