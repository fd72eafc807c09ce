"""The datasets the pipeline extracts, and the staging table each lands in.

This is the data contract between the source and the warehouse: column names and
PostgreSQL types. `tests/test_contract.py` checks it against the migrations.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    name: str
    table: str  # staging table in the warehouse schema, keyed by logical_date
    columns: dict[str, str]  # column -> PostgreSQL type, in source order


CUSTOMER_SNAPSHOTS = Dataset(
    name="customer_snapshots",
    table="staging_customer_snapshots",
    columns={
        "entity_id": "bigint",
        "tenure_months": "integer",
        "monthly_spend": "double precision",
        "support_tickets": "integer",
        "plan": "text",
        "last_login_days": "integer",
    },
)

# Outcomes arrive later than the snapshot they label: a partition holds the
# outcomes *observed* in its interval, each pointing back at its snapshot_date.
OUTCOMES = Dataset(
    name="outcomes",
    table="staging_outcomes",
    columns={"snapshot_date": "date", "entity_id": "bigint", "label": "double precision"},
)

DATASETS = {d.name: d for d in (CUSTOMER_SNAPSHOTS, OUTCOMES)}
