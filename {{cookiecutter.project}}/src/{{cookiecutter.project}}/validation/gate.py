"""Run the contract's base rules and the data scientists' expectations on a staged partition.

The rules run in the warehouse, through GX's SQL execution engine, on the
partition as the source sent it: memory stays flat whatever the batch's size,
and the columns keep the contract's types (a float column of whole numbers is a
float column). One row per run goes to `validation_runs`, with the failed
expectations and sample values, and an HTML report (GX Data Docs) goes to the
reports folder. A failed batch raises ValidationFailed, so the DAG stops before
anything is scored.
"""

from __future__ import annotations

import json
from datetime import date, datetime

from psycopg2 import sql

from ..config import Settings
from ..datasets import Dataset
from ..failures import PermanentFailure
from ..interval import Interval
from ..model import expectations
from ..model.contract import CONTRACT
from ..warehouse import connect, transaction
from .rules import base_rules
from .runner import SuiteResult, describe, validate_query


class ValidationFailed(PermanentFailure, RuntimeError):
    """The batch broke the expectations; its partition will not be used."""


def validate(settings: Settings, interval: Interval, run_id: str) -> SuiteResult:
    """Validate the features partition of `interval`; raises ValidationFailed if it broke a rule."""
    dataset = CONTRACT.features
    day = interval.partition
    with transaction(settings) as conn:
        source_columns, extracted_at, row_count = staged_batch(conn, dataset, day)
        query, columns = batch_query(conn, dataset, source_columns, day)
    result = validate_query(
        lambda: connect(settings),
        query,
        columns,
        base_rules(dataset, CONTRACT.key, sql=True) + expectations.expectations(),
        suite_name=dataset.name,
        run_name=f"{day}-{run_id}",
        reports_dir=settings.reports_dir,
    )
    record(settings, dataset, day, run_id, extracted_at, row_count, result)
    if not result.success:
        raise ValidationFailed(f"{dataset.name} for {day}: {describe(result)}")
    return result


def record(
    settings: Settings, dataset: Dataset, day: date, run_id: str, extracted_at: datetime, rows: int, result
) -> None:
    """One `validation_runs` row for the result, unless the partition was extracted again meanwhile."""
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
                rows,
                result.evaluated,
                result.failed,
                json.dumps([f.__dict__ for f in result.failures], default=str),
                str(result.report_path) if result.report_path else None,
            ),
        )


def validate_features(settings: Settings, interval: Interval, run_id: str) -> bool:
    """The daily DAG's gate: True, or ValidationFailed."""
    return validate(settings, interval, run_id).success


def staged_batch(conn, dataset: Dataset, day: date) -> tuple[list[str], datetime, int]:
    """The columns the source sent for the partition, when it was extracted, and its rows."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT source_columns, extracted_at, row_count FROM staging_batches "
            "WHERE dataset = %s AND data_date = %s",
            (dataset.name, day),
        )
        row = cur.fetchone()
    if row is None:
        raise ValidationFailed(f"{dataset.name} for {day} has not been extracted")
    return row


def batch_query(conn, dataset: Dataset, source_columns: list[str], day: date) -> tuple[str, dict[str, str]]:
    """SQL giving the staged partition with the columns the source sent, and their types.

    Staging stores exactly the contract's columns, so the batch's own column list
    (kept with the batch) decides what the gate sees: a contract column the source
    did not send is left out, and a column it sent that the contract lacks is added
    empty, so that the rule on the exact column set names both.
    """
    present = [c for c in dataset.names if c in source_columns]
    extra = [c for c in source_columns if c not in dataset.names]
    query = sql.SQL("SELECT {} FROM {} WHERE data_date = %s").format(
        sql.SQL(", ").join(
            [sql.Identifier(c) for c in present]
            + [sql.SQL("NULL::text AS {}").format(sql.Identifier(c)) for c in extra]
        ),
        sql.Identifier(dataset.table),
    )
    with conn.cursor() as cur:
        bound = cur.mogrify(query, (day,)).decode()
    return bound, {**{c: dataset.column(c).type for c in present}, **dict.fromkeys(extra, "text")}
