"""DATA SCIENTIST OWNED: the data this project works on, declared once.

Everything else is derived from this file, never restated:
  - the staging tables: after a change, `make migration MSG="what changed"` writes
    the migration, and a test fails while the migrations and this file disagree;
  - the base validation rules: exactly these columns (an extra or missing one
    fails), their types, not-null where `nullable=False`, and one row per key per
    partition; `expectations.py` adds the business rules on top;
  - how every source's values are cast (a value that does not fit its column fails
    extraction, naming it), and the typed frames training and scoring read;
  - the synthetic rows of the engineers' tests and benchmarks.

Partitions: each run of the daily DAG covers one data interval of its schedule (at
most one a day); the rows extracted for it form one partition, keyed in the
warehouse by the date the interval starts (`data_date`).

Column types: "bigint", "integer", "double precision", "text", "boolean", "date",
"timestamp with time zone".
"""

from ..datasets import Column, Contract, Dataset

CONTRACT = Contract(
    # One row per customer per day: what the model scores.
    features=Dataset(
        "snapshots",
        [
            Column("entity_id", "bigint", nullable=False),
            Column("snapshot_date", "date", nullable=False),
            Column("tenure_months", "integer", nullable=False),
            Column("monthly_spend", "double precision", nullable=False),
            Column("support_tickets", "integer", nullable=False),
            Column("plan", "text", nullable=False),
            Column("last_login_days", "integer", nullable=False),
        ],
        date_column="snapshot_date",
    ),
    # Whether each customer churned, observed days after the snapshot it labels.
    labels=Dataset(
        "outcomes",
        [
            Column("observed_on", "date", nullable=False),
            Column("snapshot_date", "date", nullable=False),
            Column("entity_id", "bigint", nullable=False),
            Column("label", "double precision", nullable=False),
        ],
        date_column="observed_on",
    ),
    key="entity_id",
    label="label",
    labelled_date="snapshot_date",  # the snapshots partition each outcome labels
)
