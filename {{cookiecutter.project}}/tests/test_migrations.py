"""Migrations go both ways: down to base, every downgrade() running, then up again to the same schema."""

from __future__ import annotations

from {{ cookiecutter.project }}.warehouse.migrate import downgrade, migrate

TABLES = "SELECT table_name FROM information_schema.tables WHERE table_schema = %s ORDER BY 1"
ROLES = "SELECT rolname FROM pg_roles WHERE rolname LIKE %s ORDER BY 1"
GRANTS = """SELECT grantee, table_name, column_name, privilege_type FROM information_schema.column_privileges
            WHERE table_schema = %s AND grantee LIKE %s ORDER BY 1, 2, 3, 4"""


def schema_state(settings, sql) -> dict:
    """The schema's tables, and the project's roles (`<schema>_*`) with their column grants."""
    roles = f"{settings.schema}\\_%"
    return {
        "tables": sql(TABLES, (settings.schema,)),
        "roles": sql(ROLES, (roles,)),
        "grants": sql(GRANTS, (settings.schema, roles)),
    }


def test_downgrade_to_base_then_upgrade_gives_the_same_schema(settings, sql):
    at_head = schema_state(settings, sql)  # the fixture migrated to head
    assert at_head["tables"] and at_head["roles"]

    downgrade(settings, "base")
    assert schema_state(settings, sql) == {"tables": [("alembic_version",)], "roles": [], "grants": []}

    migrate(settings)
    assert schema_state(settings, sql) == at_head
