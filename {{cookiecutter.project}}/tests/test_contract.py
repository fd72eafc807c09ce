"""The data contract in datasets.py matches the staging tables the migrations create."""

from __future__ import annotations

import pytest

from {{ cookiecutter.project }}.datasets import DATASETS


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_staging_table_has_the_contract_columns_and_types(settings, sql, name):
    dataset = DATASETS[name]
    columns = sql(
        """SELECT column_name, data_type FROM information_schema.columns
           WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position""",
        (settings.schema, dataset.table),
    )
    assert columns == [("logical_date", "date"), *dataset.columns.items()]
