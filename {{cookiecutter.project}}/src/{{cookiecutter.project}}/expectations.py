"""Data rules for the daily customer snapshots.

This is the ONLY file to edit when the rules for "good data" change.
Each rule is one Great Expectations (GX 1.x) expectation; the catalogue, with
every parameter, is at https://greatexpectations.io/expectations/

A batch passes only if every rule passes. If a rule fails, the Airflow task
fails with a message naming the rule, the column and a few offending values,
and the run's HTML report shows the details.
"""

# Column -> expected type, using the names `df.dtypes` prints:
#   "int64"    whole numbers (pandas' nullable "Int64" is accepted too)
#   "float64"  decimal numbers
#   "str"      text (pandas' "str" or "string" dtype, or an object column of text)
# Note: pandas turns an int column that has a missing value into float64, so a
# null in an int column fails both its type rule and its not-null rule.
COLUMNS = {
    "entity_id": "int64",
    "tenure_months": "int64",
    "monthly_spend": "float64",
    "support_tickets": "int64",
    "plan": "str",
    "last_login_days": "int64",
}

PLANS = ["basic", "pro", "enterprise"]


def expectations() -> list:
    """The rules every snapshot batch must satisfy."""
    # Imported here, not at the top of the file: importing GX takes seconds,
    # and Airflow imports DAG files (and what they import) very often.
    import great_expectations.expectations as gxe

    rules = [
        # Schema: exactly these columns, no more and no fewer, so a renamed or
        # dropped column upstream fails loudly instead of silently.
        gxe.ExpectTableColumnsToMatchSet(column_set=list(COLUMNS), exact_match=True),
        # Volume: an empty batch means the extract failed upstream; a batch
        # far bigger than expected means rows were duplicated.
        gxe.ExpectTableRowCountToBeBetween(min_value=1, max_value=10_000_000),
    ]

    # Every column: the right type, and no missing values (the downstream
    # features need a value in every cell).
    for column, type_name in COLUMNS.items():
        rules.append(gxe.ExpectColumnValuesToBeOfType(column=column, type_=type_name))
        rules.append(gxe.ExpectColumnValuesToNotBeNull(column=column))

    rules += [
        # One row per customer per snapshot; a repeated id double-counts a customer.
        gxe.ExpectColumnValuesToBeUnique(column="entity_id"),
        # Plausible ranges: counts and amounts cannot be negative, and values
        # above the upper limits are data errors, not real customers.
        gxe.ExpectColumnValuesToBeBetween(column="tenure_months", min_value=0, max_value=600),  # 50 years
        gxe.ExpectColumnValuesToBeBetween(column="monthly_spend", min_value=0, max_value=100_000),
        gxe.ExpectColumnValuesToBeBetween(column="support_tickets", min_value=0, max_value=1_000),
        gxe.ExpectColumnValuesToBeBetween(column="last_login_days", min_value=0, max_value=3_650),  # 10 years
        # Only the plans we sell; a new plan must be added here on purpose.
        gxe.ExpectColumnValuesToBeInSet(column="plan", value_set=PLANS),
    ]
    return rules
