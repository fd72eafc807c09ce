"""Migrations from the data contract: the tables it implies, and `make migration`.

The staging table of each dataset and the type of `predictions.entity_id` (the
contract's key) follow `model/contract.py`. `make migration MSG="…"` migrates a
scratch schema of the local embedded PostgreSQL to the latest revision, compares
it with what the contract implies, and writes a new revision holding the
differences; `tests/test_contract.py` fails for as long as there are any.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import replace
from pathlib import Path

from sqlalchemy import (
    TIMESTAMP,
    BigInteger,
    Boolean,
    Column,
    Date,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
)
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION

from ..config import PROJECT_ROOT, Settings
from ..datasets import Contract
from ..model.contract import CONTRACT
from .connection import transaction
from .migrate import MIGRATIONS, alembic_config, migrate

SQL_TYPES = {
    "bigint": BigInteger,
    "integer": Integer,
    "double precision": DOUBLE_PRECISION,
    "text": Text,
    "boolean": Boolean,
    "date": Date,
    "timestamp with time zone": lambda: TIMESTAMP(timezone=True),
}
# Tables named staging_* that hold no dataset: never dropped as a dataset that went away.
CORE_TABLES = frozenset({"staging_batches"})
# Views over predictions, found in the database when its key type changes: PostgreSQL
# cannot change the type of a column a view reads, so they are dropped and recreated.
_DEPENDENT_VIEWS = """
    SELECT DISTINCT v.oid, v.relname, pg_get_viewdef(v.oid)
    FROM pg_depend d
    JOIN pg_rewrite r ON r.oid = d.objid
    JOIN pg_class v ON v.oid = r.ev_class
    WHERE d.refobjid = 'predictions'::regclass AND v.relname <> 'predictions'
    ORDER BY v.oid"""
_PARTITIONS = (
    "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relispartition"
)


def contract_metadata(contract: Contract = CONTRACT) -> MetaData:
    """The part of the warehouse the contract decides, as SQLAlchemy tables.

    Staging columns are all nullable: nulls and duplicates are for the validation
    gate to report with sample values, not for the loader to crash on. Each table is
    partitioned by date (warehouse/partitions.py), so needs no index on it.
    """
    metadata = MetaData()
    for dataset in contract.datasets.values():
        Table(
            dataset.table,
            metadata,
            Column("data_date", Date, nullable=False),
            *(Column(c.name, SQL_TYPES[c.type]()) for c in dataset.columns),
            postgresql_partition_by="LIST (data_date)",
        )
    labels = metadata.tables[contract.labels.table]  # training joins labels to features on it
    Index(f"{labels.name}_{contract.labelled_date}_idx", labels.c[contract.labelled_date])
    key = SQL_TYPES[contract.features.column(contract.key).type]()
    Table("predictions", metadata, Column("entity_id", key, nullable=False))
    return metadata


def including(connection):
    """An include_object hook comparing only what the contract decides: the staging tables
    (not their partitions, one a date), and predictions' key column."""
    partitions = set(connection.exec_driver_sql(_PARTITIONS).scalars())

    def include_object(obj, name: str, type_: str, reflected: bool, compare_to) -> bool:
        table = name if type_ == "table" else obj.table.name
        if table == "predictions":
            return type_ == "table" or (type_ == "column" and name == "entity_id")
        return table.startswith("staging_") and table not in CORE_TABLES and table not in partitions

    return include_object


def differences(settings: Settings, contract: Contract = CONTRACT) -> list:
    """How the migrated schema of `settings` differs from the contract; [] when they agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with alembic_config(settings) as cfg:
        conn = cfg.attributes["connection"]
        context = MigrationContext.configure(conn, opts={"include_object": including(conn)})
        return compare_metadata(context, contract_metadata(contract))


def keep_dependent_views(connection):
    """A process_revision_directives hook: drop and recreate the views over predictions
    around any change of its key column's type, as they stand in the database now."""
    from alembic.operations import ops

    def changes_predictions(container) -> bool:
        return any(
            isinstance(op, ops.ModifyTableOps) and op.table_name == "predictions" for op in container.ops
        )

    def process(context, revision, directives) -> None:
        script = directives[0]
        if not changes_predictions(script.upgrade_ops):
            return
        views = connection.exec_driver_sql(_DEPENDENT_VIEWS).fetchall()
        if not views:
            return
        drop = ops.ExecuteSQLOp(f"DROP VIEW {', '.join(name for _, name, _ in views)}")
        create = [ops.ExecuteSQLOp(f"CREATE VIEW {name} AS\n{body}") for _, name, body in views]
        for container in (script.upgrade_ops, script.downgrade_ops):
            container.ops[:0] = [drop]
            container.ops.extend(create)

    return process


def generate(
    settings: Settings, message: str, contract: Contract = CONTRACT, migrations: Path = MIGRATIONS
) -> Path | None:
    """Write a revision into `migrations` taking the warehouse from the latest one to `contract`.

    Works in a scratch schema (dropped afterwards) so no real data is touched; returns
    the new file, or None when the migrations already match the contract.
    """
    from alembic import command
    from alembic.script import ScriptDirectory

    scratch = replace(settings, schema=f"migration_{uuid.uuid4().hex[:10]}")
    migrate(scratch, migrations=migrations)
    try:
        if not differences(scratch, contract):
            return None
        with alembic_config(scratch, migrations) as cfg:
            numbers = [int(r.revision) for r in ScriptDirectory.from_config(cfg).walk_revisions()]
            cfg.attributes.update(
                target_metadata=contract_metadata(contract),
                include_object=including(cfg.attributes["connection"]),
                process_revision_directives=keep_dependent_views(cfg.attributes["connection"]),
            )
            script = command.revision(cfg, message, autogenerate=True, rev_id=f"{max(numbers) + 1:04d}")
        return Path(script.path)
    finally:
        _drop_scratch(scratch)


def _drop_scratch(scratch: Settings) -> None:
    # Dropping the schema removes its tables and grants; the migrations' roles carry its name.
    with transaction(scratch) as conn, conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{scratch.schema}" CASCADE')
        for role in ("analyst", "writer"):
            cur.execute(f'DROP ROLE IF EXISTS "{scratch.schema}_{role}"')


def tidy(path: Path) -> None:
    """Format the generated file as the project's lint expects (ruff is a dev dependency)."""
    ruff = Path(sys.executable).with_name("ruff")
    subprocess.run([str(ruff), "check", "--fix", "--quiet", str(path)], check=False)
    subprocess.run([str(ruff), "format", "--quiet", str(path)], check=True)


def main(argv: list[str]) -> int:
    message = " ".join(argv).strip()
    if not message:
        print('usage: make migration MSG="what changed in the contract"', file=sys.stderr)
        return 2
    # Always the local embedded PostgreSQL: generating a revision must not need, or touch, a real warehouse.
    path = generate(replace(Settings.from_env(), warehouse_url=None), message)
    if path is None:
        print("the migrations already match model/contract.py: nothing to generate")
        return 0
    tidy(path)
    print(f"wrote {path.relative_to(PROJECT_ROOT)}: review it, then `make migrate` and commit it")
    return 0


if __name__ == "__main__":  # `make migration MSG="…"`
    sys.exit(main(sys.argv[1:]))
