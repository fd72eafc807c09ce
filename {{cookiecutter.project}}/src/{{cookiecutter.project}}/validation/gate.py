"""Run the contract's base rules and the data scientists' expectations on a staged partition.

One row per run goes to `validation_runs`, with the failed expectations and sample
values, and an HTML report (GX Data Docs) goes to the reports folder. A failed
batch raises ValidationFailed, so the DAG stops before anything is scored.
"""

from __future__ import annotations

import json

import pandas as pd

from .. import staging
from ..config import Settings
from ..datasets import Dataset
from ..failures import PermanentFailure
from ..interval import Interval
from ..model import expectations
from ..model.contract import CONTRACT
from ..warehouse import transaction
from .rules import base_rules
from .runner import SuiteResult, describe, validate_frame


class ValidationFailed(PermanentFailure, RuntimeError):
    """The batch broke the expectations; its partition will not be used."""


def validate(settings: Settings, interval: Interval, run_id: str) -> SuiteResult:
    """Validate the features partition of `interval`; raises ValidationFailed if it broke a rule."""
    dataset = CONTRACT.features
    day = interval.partition
    with transaction(settings) as conn:
        frame, extracted_at = staged_batch(conn, dataset, day)
    result = validate_frame(
        frame,
        base_rules(dataset, CONTRACT.key) + expectations.expectations(),
        suite_name=dataset.name,
        run_name=f"{day}-{run_id}",
        reports_dir=settings.reports_dir,
    )
    with transaction(settings) as conn, conn.cursor() as cur:
        # The result holds only for the rows validated: if the partition was extracted
        # again meanwhile, record nothing (the lock keeps a rerun from committing now).
        cur.execute(
            "SELECT extracted_at FROM staging_batches WHERE dataset = %s AND data_date = %s FOR SHARE",
            (dataset.name, day),
        )
        if cur.fetchone() != (extracted_at,):
            raise ValidationFailed(
                f"{dataset.name} for {day} was extracted again while it was being "
                "validated: validate it again"
            )
        cur.execute(
            """INSERT INTO validation_runs (data_date, suite, run_id, success, row_count, evaluated,
                                            failed, failures, report_path)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (data_date, suite, run_id) DO UPDATE SET
                 success = EXCLUDED.success, row_count = EXCLUDED.row_count, evaluated = EXCLUDED.evaluated,
                 failed = EXCLUDED.failed, failures = EXCLUDED.failures,
                 report_path = EXCLUDED.report_path, validated_at = now()""",
            (
                day,
                dataset.name,
                run_id,
                result.success,
                len(frame),
                result.evaluated,
                result.failed,
                json.dumps([f.__dict__ for f in result.failures], default=str),
                str(result.report_path) if result.report_path else None,
            ),
        )
    if not result.success:
        raise ValidationFailed(f"{dataset.name} for {day}: {describe(result)}")
    return result


def staged_batch(conn, dataset: Dataset, day) -> tuple[pd.DataFrame, object]:
    """The staged partition with the columns the source sent, in the contract's types, and
    when it was extracted.

    Staging stores exactly the contract's columns, so the batch's own column list
    (kept with the batch) decides what the gate sees: a contract column the source
    did not send is left out, and a column it sent that the contract lacks is added
    empty, so that the rule on the exact column set names both. The batch row stays
    locked until the caller's transaction ends, so a concurrent re-extraction cannot
    commit between reading the column list and reading the rows.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_columns, extracted_at FROM staging_batches "
            "WHERE dataset = %s AND data_date = %s FOR SHARE",
            (dataset.name, day),
        )
        row = cur.fetchone()
    if row is None:
        raise ValidationFailed(f"{dataset.name} for {day} has not been extracted")
    source_columns, extracted_at = row
    present = [c for c in dataset.names if c in source_columns]
    frame = staging.read(conn, staging.select(dataset, present), (day,), dataset.dtypes)[present]
    for extra in (c for c in source_columns if c not in dataset.names):
        frame[extra] = pd.Series(pd.NA, index=frame.index, dtype="object")
    return frame, extracted_at
