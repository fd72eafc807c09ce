"""DATA SCIENTIST OWNED: business rules for the daily features batch.

The base rules come from `contract.py` and are not repeated here: exactly the
contract's columns, their types, not-null, and one row per key per partition.
This file adds what the contract cannot say: plausible ranges, allowed values,
relations between columns. Each rule is one Great Expectations (GX 1.x)
expectation; the catalogue, with every parameter, is at
https://greatexpectations.io/expectations/

A batch passes only if every rule passes. If a rule fails, the Airflow task fails
with a message naming the rule, the column and a few offending values, and the
run's HTML report shows the details. The synthetic rows of the tests honour the
ranges and allowed values given here.
"""

PLANS = ["basic", "pro", "enterprise"]


def expectations() -> list:
    """The business rules every features batch must satisfy, on top of the contract's."""
    # Imported here, not at the top of the file: importing GX takes seconds, and
    # Airflow imports DAG files (and what they import) very often.
    import great_expectations.expectations as gxe

    return [
        # Ids are issued from 1 upwards: zero or a negative id is a broken export.
        gxe.ExpectColumnValuesToBeBetween(column="entity_id", min_value=1),
        # A batch far bigger than usual means rows were duplicated upstream.
        gxe.ExpectTableRowCountToBeBetween(max_value=10_000_000),
        # Counts and amounts cannot be negative, and values above the upper limits
        # are data errors, not real customers.
        gxe.ExpectColumnValuesToBeBetween(column="tenure_months", min_value=0, max_value=600),  # 50 years
        gxe.ExpectColumnValuesToBeBetween(column="monthly_spend", min_value=0, max_value=100_000),
        gxe.ExpectColumnValuesToBeBetween(column="support_tickets", min_value=0, max_value=1_000),
        gxe.ExpectColumnValuesToBeBetween(column="last_login_days", min_value=0, max_value=3_650),  # 10 years
        # Only the plans we sell; a new plan must be added here on purpose.
        gxe.ExpectColumnValuesToBeInSet(column="plan", value_set=PLANS),
    ]
