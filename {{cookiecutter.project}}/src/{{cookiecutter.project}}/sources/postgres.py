"""PostgreSQL source: one query per dataset, parameterised by the data interval.

By default a dataset is read from the table of its name in SOURCE_SCHEMA, the rows
whose `date_column` (model/contract.py) falls in the interval. A source shaped
otherwise gets a query file `<dataset>.sql` in the folder SOURCE_QUERIES_DIR names;
it must return the contract's columns, and takes `%(start)s` / `%(end)s` bound by
psycopg2 and `{source_schema}` quoted as an identifier: no value is ever formatted
into SQL text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import psycopg2
import pyarrow as pa
from psycopg2 import sql

from ..config import Settings
from ..datasets import Dataset
from ..interval import Interval
from ..warehouse import copy_frame, warehouse_url
from ..warehouse.bulk import stream_frames
from . import SourceError

# SELECT * on purpose: a column the upstream renames or drops reaches the validation
# gate, which names it, instead of breaking the query.
DEFAULT_QUERY = (
    "SELECT * FROM {source_schema}.{table} WHERE {date} >= %(start)s::date AND {date} < %(end)s::date"
)
_PG_TYPES = {"i": "bigint", "u": "bigint", "f": "double precision", "b": "boolean", "M": "timestamptz"}


class PostgresSource:
    def __init__(self, url: str, schema: str, chunk_rows: int, queries: Path | None = None):
        self.url, self.schema, self.chunk_rows, self.queries = url, schema, chunk_rows, queries
        self.description = f"postgres:{schema}"

    def query(self, dataset: Dataset) -> sql.Composed:
        path = self.queries / f"{dataset.name}.sql" if self.queries else None
        if path is not None and path.exists():
            return sql.SQL(path.read_text()).format(source_schema=sql.Identifier(self.schema))
        if dataset.date_column is None:
            raise SourceError(
                f"no query for dataset {dataset.name!r}: write {path or 'SOURCE_QUERIES_DIR/' + dataset.name + '.sql'},"
                " or give it a date_column in model/contract.py to read its table by date"
            )
        return sql.SQL(DEFAULT_QUERY).format(
            source_schema=sql.Identifier(self.schema),
            table=sql.Identifier(dataset.name),
            date=sql.Identifier(dataset.date_column),
        )

    def read(self, dataset: Dataset, interval: Interval) -> Iterator[pd.DataFrame]:
        query = self.query(dataset)
        # Rows arrive as text (COPY): fix the settings that change how values are printed.
        # Read-only: a query file, or a login with more rights than it needs, changes nothing.
        options = (
            "-c TimeZone=UTC -c DateStyle=ISO -c extra_float_digits=3 -c client_encoding=UTF8"
            " -c default_transaction_read_only=on"
        )
        try:
            conn = psycopg2.connect(self.url, connect_timeout=10, options=options)
        except psycopg2.OperationalError as exc:
            raise SourceError(f"source database unreachable ({self.description}): {exc}") from exc
        try:
            with conn:
                params = {"start": interval.start, "end": interval.end}
                yield from stream_frames(conn, query, params, self.chunk_rows)
        except (psycopg2.Error, pa.ArrowException) as exc:
            raise SourceError(f"reading {dataset.name} from {self.description} failed: {exc}") from exc
        finally:
            conn.close()

    def commit(self, dataset: Dataset, interval: Interval) -> None:
        """Nothing to do: the source table is not ours to change."""

    def publish(self, dataset: Dataset, interval: Interval, frame: pd.DataFrame) -> None:
        """Replace the day's rows; columns the table lacks are added, as upstream tables grow."""
        key = dataset.date_column
        if key is None:
            raise SourceError(f"publishing {dataset.name} needs its date_column in model/contract.py")
        if key not in frame.columns:  # a batch whose date column was renamed upstream
            frame = frame.assign(**{key: interval.partition})
        table = sql.Identifier(dataset.name)
        columns = [
            sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_pg_type(frame[c]))) for c in frame.columns
        ]
        with (
            psycopg2.connect(self.url, options=f"-c search_path={self.schema}") as conn,
            conn.cursor() as cur,
        ):
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            cur.execute(
                sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(table, sql.SQL(", ").join(columns))
            )
            for column in columns:
                cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {}").format(table, column))
            cur.execute(
                sql.SQL("DELETE FROM {} WHERE {} = %s").format(table, sql.Identifier(key)),
                (interval.partition,),
            )
            copy_frame(conn, dataset.name, frame)
        conn.close()


def _pg_type(values: pd.Series) -> str:
    """The column type upstream would have for these values (text columns with numbers in
    them included, which the tests use to publish values that are not numbers)."""
    if values.dtype.kind == "M" and getattr(values.dtype, "tz", None) is None:
        return "date"  # synthetic and demo dates are midnights
    return _PG_TYPES.get(values.dtype.kind, "text")


def open_source(settings: Settings) -> PostgresSource:
    url = settings.source_url or warehouse_url(settings)
    return PostgresSource(url, settings.source_schema, settings.chunk_rows, settings.source_queries_dir)
