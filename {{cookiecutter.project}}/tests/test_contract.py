"""The data contract (model/contract.py): what it accepts, and what is derived from it.

The migrations must build exactly the staging tables the contract implies (a
changed contract needs `make migration`), its synthetic rows must pass its own
rules, and a changed contract must give a migration that brings the warehouse to it.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from datetime import date

import pytest
from conftest import FEATURES, KEY, LABELS, capped

from {{ cookiecutter.project }}.datasets import Column, ContractError, Dataset
from {{ cookiecutter.project }}.model import expectations
from {{ cookiecutter.project }}.model.contract import CONTRACT
from {{ cookiecutter.project }}.synthetic import features, labels
from {{ cookiecutter.project }}.validation.rules import base_rules
from {{ cookiecutter.project }}.validation.runner import validate_frame
from {{ cookiecutter.project }}.warehouse import migrate
from {{ cookiecutter.project }}.warehouse.autogenerate import differences, generate
from {{ cookiecutter.project }}.warehouse.migrate import MIGRATIONS


def test_the_migrations_build_what_the_contract_declares(settings):
    assert differences(settings) == [], "model/contract.py changed: run `make migration MSG=...`"


@pytest.mark.parametrize("dataset", [FEATURES, LABELS], ids=lambda d: d.name)
def test_staging_table_has_the_partition_date_and_the_contract_columns(settings, sql, dataset):
    columns = sql(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
        (settings.schema, dataset.table),
    )
    assert dict(columns) == {"data_date": "date", **dataset.types}


@pytest.mark.parametrize("table", ["predictions", FEATURES.table, LABELS.table])
def test_tables_are_partitioned_by_date(sql, table):
    """A date is replaced, and dropped by retention, as one partition: `make migration` keeps it so."""
    assert sql(
        """SELECT p.partstrat, a.attname FROM pg_partitioned_table p
           JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0]
           WHERE p.partrelid = %s::regclass""",
        (f'"{table}"',),
    ) == [("l", "data_date")]


def test_predictions_are_keyed_by_the_contracts_key_type(settings, sql):
    assert sql(
        """SELECT data_type FROM information_schema.columns
           WHERE table_schema = %s AND table_name = 'predictions' AND column_name = 'entity_id'""",
        (settings.schema,),
    ) == [(FEATURES.column(KEY).type,)]


def test_synthetic_rows_pass_the_contract_and_the_business_rules(tmp_path):
    day = date(2025, 3, 3)
    rules = base_rules(FEATURES, KEY) + expectations.expectations()
    result = validate_frame(
        features(day, capped(300)), rules, suite_name="t", run_name="t", reports_dir=tmp_path
    )
    assert result.success, result.failures
    known = labels(day, day, capped(300))
    assert list(known.columns) == LABELS.names and known[CONTRACT.label].notna().all()


def _dataset(*columns: Column, date_column=None) -> Dataset:
    return Dataset("things", columns, date_column=date_column)


@pytest.mark.parametrize(
    ("declare", "message"),
    [
        (lambda: Column("Price", "double precision"), "lowercase SQL identifier"),
        (lambda: Column("data_date", "date"), "other than ['data_date']"),
        (lambda: Column("price", "money"), "type 'money' is not one of"),
        (lambda: _dataset(), "needs columns"),
        (lambda: _dataset(Column("a", "text"), Column("a", "text")), "each named once"),
        (lambda: _dataset(Column("a", "text"), date_column="b"), "has no column 'b'"),
        (lambda: _dataset(Column("a", "text"), date_column="a"), "must be of type date"),
        (lambda: replace(CONTRACT, key="missing"), "has no column 'missing'"),
        (lambda: replace(CONTRACT, labels=CONTRACT.features), "must be two datasets"),
        (lambda: replace(CONTRACT, labelled_date=CONTRACT.label), "must be a date column"),
        (lambda: replace(CONTRACT, label=KEY), "must not also be a column of the features"),
    ],
    ids=[
        "uppercase",
        "reserved",
        "unknown-type",
        "no-columns",
        "twice",
        "no-date-column",
        "text-date-column",
        "no-key",
        "one-dataset",
        "labelled-date-not-a-date",
        "label-in-features",
    ],
)
def test_a_bad_declaration_fails_at_import_naming_the_problem(declare, message):
    with pytest.raises(ContractError, match=re.escape(message)):
        declare()


def test_a_changed_contract_gets_a_migration_that_brings_the_warehouse_to_it(settings, sql, tmp_path):
    """An added column, and a key that becomes text: the views over predictions survive it."""
    migrations = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, migrations, ignore=shutil.ignore_patterns("__pycache__"))
    added = Column("added_later", "double precision")
    changed = replace(
        CONTRACT,
        features=replace(FEATURES, columns=(*(retyped(c) for c in FEATURES.columns), added)),
        labels=replace(LABELS, columns=tuple(retyped(c) for c in LABELS.columns)),
    )
    assert differences(settings, changed)  # the migrated schema does not have it yet

    path = generate(settings, "add a column; text keys", changed, migrations)

    assert path is not None and path.parent == migrations / "versions"
    assert generate(settings, "again", changed, migrations) is None  # the new revision covers it all
    target = replace(settings, schema=f"{settings.schema}_b")
    migrate(target, migrations=migrations)
    assert differences(target, changed) == []
    assert sql(f'SELECT count(*) FROM "{target.schema}".latest_predictions') == [(0,)]  # noqa: S608
    assert sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", ("migration\\_%",)) == []


def retyped(column: Column) -> Column:
    return replace(column, type="text") if column.name == KEY else column
