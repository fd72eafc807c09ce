"""Run the data scientist's expectations on a staged partition, record and enforce the result.

One row per run goes to `validation_runs`, with the failed expectations and sample
values, and an HTML report (GX Data Docs) goes to the reports folder. A failed
batch raises ValidationFailed, so the DAG stops before anything is scored.
"""

from __future__ import annotations

import json

from psycopg2 import sql

from .. import expectations
from ..config import Settings
from ..datasets import CUSTOMER_SNAPSHOTS, Dataset
from ..interval import Interval
from ..warehouse import read_frame, transaction
from .runner import SuiteResult, describe, validate_frame


class ValidationFailed(RuntimeError):
    """The batch broke the expectations; its partition will not be used."""


def validate(
    settings: Settings, interval: Interval, run_id: str, dataset: Dataset = CUSTOMER_SNAPSHOTS
) -> SuiteResult:
    day = interval.partition
    with transaction(settings) as conn:
        frame, extracted_at = staged_batch(conn, dataset, day)
    result = validate_frame(
        frame,
        expectations.expectations(),
        suite_name=dataset.name,
        run_name=f"{day}-{run_id}",
        reports_dir=settings.reports_dir,
    )
    with transaction(settings) as conn, conn.cursor() as cur:
        # The result holds only for the rows validated: if the partition was extracted
        # again meanwhile, record nothing (the lock keeps a rerun from committing now).
        cur.execute(
            "SELECT extracted_at FROM staging_batches WHERE dataset = %s AND logical_date = %s FOR SHARE",
            (dataset.name, day),
        )
        if cur.fetchone() != (extracted_at,):
            raise ValidationFailed(
                f"{dataset.name} for {day} was extracted again while it was being "
                "validated: validate it again"
            )
        cur.execute(
            """INSERT INTO validation_runs (logical_date, suite, run_id, success, row_count, evaluated,
                                            failed, failures, report_path)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)
               ON CONFLICT (logical_date, suite, run_id) DO UPDATE SET
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


def staged_batch(conn, dataset: Dataset, day):
    """The staged partition as the source sent it (columns it lacked are left out), and
    when it was extracted.

    Staging stores every contract column, so a column the source dropped or renamed
    would otherwise look like plain NULLs; the batch's own column list tells them apart.
    The batch row stays locked until the caller's transaction ends, so a concurrent
    re-extraction cannot commit between reading the column list and reading the rows.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_columns, extracted_at FROM staging_batches "
            "WHERE dataset = %s AND logical_date = %s FOR SHARE",
            (dataset.name, day),
        )
        row = cur.fetchone()
    if row is None:
        raise ValidationFailed(f"{dataset.name} for {day} has not been extracted")
    present = [c for c in dataset.columns if c in row[0]]
    query = sql.SQL("SELECT {} FROM {} WHERE logical_date = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, present)) if present else sql.SQL("1 AS no_columns"),
        sql.Identifier(dataset.table),
    )
    frame = read_frame(conn, query, (day,))
    return frame[present], row[1]
