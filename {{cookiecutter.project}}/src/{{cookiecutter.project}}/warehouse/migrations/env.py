"""Alembic environment: migrations run on the caller's connection, inside the schema.

Revisions use unqualified table names; `search_path` points them at the project's
schema, so one set of migrations serves any `WAREHOUSE_SCHEMA`. A transaction-level
advisory lock keeps two workers from migrating at once. When `make migration`
autogenerates a revision, it passes the tables the data contract implies
(warehouse/autogenerate.py) through the config's attributes.
"""

from alembic import context

attributes = context.config.attributes
connection = attributes["connection"]
schema = attributes["schema"]  # validated as a plain identifier by Settings

context.configure(
    connection=connection,
    version_table_schema=schema,
    transaction_per_migration=False,
    target_metadata=attributes.get("target_metadata"),
    include_object=attributes.get("include_object"),
    process_revision_directives=attributes.get("process_revision_directives"),
)
with context.begin_transaction():
    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('warehouse-migrations'))")
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.exec_driver_sql(f'SET LOCAL search_path TO "{schema}"')
    context.run_migrations(schema=schema)
