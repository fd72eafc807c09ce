"""The base validation rules, derived from the data contract (model/contract.py).

Exactly the contract's columns (an extra or a missing one fails, naming it), each
column's type, not-null where the contract says so, a non-empty batch, and one row
per entity key. The data scientists' `model/expectations.py` adds business rules.
"""

from __future__ import annotations

from ..datasets import Dataset


def base_rules(dataset: Dataset, key: str, sql: bool = False) -> list:
    """The rules, with types as pandas names them (a frame), or `sql`: as PostgreSQL does (a query)."""
    import great_expectations.expectations as gxe

    rules = [
        gxe.ExpectTableColumnsToMatchSet(column_set=dataset.names, exact_match=True),
        # An empty batch means the export failed upstream, not that nothing happened.
        gxe.ExpectTableRowCountToBeBetween(min_value=1),
    ]
    for column in dataset.columns:
        type_ = column.type if sql else column.kind.gx
        rules.append(gxe.ExpectColumnValuesToBeOfType(column=column.name, type_=type_))
        if not column.nullable:
            rules.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
    # One row per entity per partition: a repeated key would be scored twice.
    rules.append(gxe.ExpectColumnValuesToBeUnique(column=key))
    return rules
