"""Apply the versioned warehouse migrations (Alembic) to the configured schema."""

from __future__ import annotations

from pathlib import Path

from ..config import Settings
from .connection import warehouse_url

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(settings: Settings, revision: str = "head") -> None:
    """Bring the warehouse schema to `revision`; safe to run on every start."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine

    url = warehouse_url(settings)
    engine = create_engine(url.replace("postgres://", "postgresql://", 1).replace(
        "postgresql://", "postgresql+psycopg2://", 1))
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        with engine.connect() as conn:
            cfg.attributes.update(connection=conn, schema=settings.schema)
            command.upgrade(cfg, revision)
    finally:
        engine.dispose()
