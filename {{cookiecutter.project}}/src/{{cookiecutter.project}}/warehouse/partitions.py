"""One date of a partitioned table, replaced by a swap: fill a staged table, then publish it.

`predictions` and the staging tables hold one partition per `data_date` (migration
0005). A writer locks the date, fills a staged table shaped like the table, and
publishing it in the same transaction builds the table's indexes on it and makes
it the date's partition: readers see the old rows or the new ones, a failure
anywhere rolls it all back, and the parent is locked only for the swap. The DDL
runs in SECURITY DEFINER functions of the migration, so the writer role needs no
DDL rights.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from psycopg2.extensions import connection as Connection


def lock(conn: Connection, table: str, day: date) -> None:
    """Hold `table`'s date until the transaction ends: a second writer of that date waits here,
    then replaces, instead of failing on a unique key."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.' || %s), %s - DATE '2000-01-01')",
            (table, day),
        )


def begin(conn: Connection, table: str, day: date, area: str = "next") -> str:
    """A new, empty staged table for `table`'s date, named for `area` (a leftover of the same
    area is replaced); returns its name."""
    with conn.cursor() as cur:
        cur.execute("SELECT begin_partition(%s, %s, %s)", (table, day, area))
        return cur.fetchone()[0]


def publish(conn: Connection, table: str, day: date, staged: list[str]) -> None:
    """The staged tables' rows become the date's partition, replacing it (in the caller's transaction)."""
    with conn.cursor() as cur:
        cur.execute("SELECT publish_partition(%s, %s, %s)", (table, day, staged))


@contextmanager
def replacing(conn: Connection, table: str, day: date) -> Iterator[str]:
    """Lock the date and yield a staged table to fill; once the block ends, it is the date's partition."""
    lock(conn, table, day)
    staged = begin(conn, table, day)
    yield staged
    publish(conn, table, day, [staged])


def drop(conn: Connection, table: str, day: date) -> bool:
    """Drop the date's partition (retention); False if there was none."""
    lock(conn, table, day)
    with conn.cursor() as cur:
        cur.execute("SELECT drop_partition(%s, %s)", (table, day))
        return cur.fetchone()[0]
