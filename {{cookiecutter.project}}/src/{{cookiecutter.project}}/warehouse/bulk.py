"""Bulk reads and writes with COPY, the fastest path psycopg2 has in and out of PostgreSQL.

`copy_frame` serialises a frame with pyarrow's CSV writer, several times faster than
`DataFrame.to_csv`, which was the bottleneck of the COPY path when measured; it
takes any frame the sources give. `copy_frames` streams frames of the contract's
types in binary COPY format (pgbinary.py) through one COPY, sent from a thread
while the caller makes the next frame.
"""

from __future__ import annotations

import io
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from itertools import chain

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg2 import sql
from psycopg2.extensions import connection as Connection

from . import pgbinary

# stream_frames: source columns of these PostgreSQL types (int2/4/8, float4/8) are
# parsed by pyarrow; any other type arrives as the text PostgreSQL prints, for the
# caller to cast (and reject, naming the column, if it cannot). With typed=True
# (staged data, in the contract's types) booleans, dates and UTC times are parsed too.
_ARROW_TYPES = {21: pa.int64(), 23: pa.int64(), 20: pa.int64(), 700: pa.float64(), 701: pa.float64()}
_TYPED = {**_ARROW_TYPES, 16: pa.bool_(), 1082: pa.date32(), 1184: pa.timestamp("us", tz="UTC")}
_PANDAS_TYPES = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
_PIPE_BYTES = 1 << 20  # COPY output buffered between the copying thread and the parser
_BLOCK_BYTES = 1 << 20  # parsed at a time: ~25k rows of six columns


def copy_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """Append `frame` to `table` inside the caller's transaction; returns rows written."""
    if frame.empty:
        return 0
    buf = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buf)
    buf.seek(0)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, frame.columns))
    )
    with conn.cursor() as cur:
        cur.copy_expert(statement.as_string(conn), buf)
    return len(frame)


def copy_frames(conn: Connection, table: str, frames: Iterable[pd.DataFrame], depth: int = 2) -> int:
    """Append every frame to `table` through one binary COPY in the caller's transaction; returns
    the rows written.

    A thread sends frame k, and the server stores it, while this one makes and
    encodes frame k+1; at most `depth` encoded frames wait between them, so memory
    does not grow with the row count. Frames have the columns of the first, in the
    contract's dtypes; `conn` must not be used elsewhere meanwhile. An error on
    either side ends the COPY, and the transaction is then failed.
    """
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        return 0
    columns = [str(c) for c in first.columns]
    types = column_types(conn, table, columns)
    statement = sql.SQL("COPY {} ({}) FROM STDIN WITH (FORMAT binary)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    feed = _Feed(depth)
    sender = threading.Thread(target=feed.send, args=(conn, statement.as_string(conn)), name="copy-in")
    sender.start()
    rows = 0
    try:
        feed.put(pgbinary.HEADER)
        for frame in chain([first], frames):
            if len(frame):
                feed.put(pgbinary.rows(frame[columns], types))
                rows += len(frame)
        feed.put(pgbinary.TRAILER)
        feed.put(b"")  # end of data
    except BaseException as exc:
        feed.abort(exc)
        raise
    finally:
        sender.join()
    if feed.failure:
        raise feed.failure
    return rows


class _Feed:
    """The file copy_expert reads from: encoded frames handed over by the producing thread."""

    def __init__(self, depth: int):
        self.chunks: queue.Queue = queue.Queue(maxsize=depth)
        self.failure: BaseException | None = None
        self.done = threading.Event()

    def send(self, conn: Connection, statement: str) -> None:
        try:
            with conn.cursor() as cur:
                cur.copy_expert(statement, self, size=1 << 20)
        except BaseException as exc:  # raised to the producer by put(), or after join
            self.failure = exc
        finally:
            self.done.set()

    def read(self, size: int = -1) -> bytes:
        chunk = self.chunks.get()
        if isinstance(chunk, BaseException):
            raise chunk  # psycopg2 ends the COPY with an error; the server rolls it back
        return chunk

    def put(self, chunk) -> None:
        while not self.done.is_set():
            try:
                self.chunks.put(chunk, timeout=0.1)
                return
            except queue.Full:
                continue
        raise self.failure or RuntimeError("the COPY ended before all rows were sent")

    def abort(self, exc: BaseException) -> None:
        """End the COPY with an error, so that the producer's own exception is the one raised."""
        try:
            self.put(RuntimeError(f"not sent: {type(exc).__name__}: {exc}"))
        except BaseException:  # the COPY had already ended: nothing left to stop
            return


def column_types(conn: Connection, table: str, columns: list[str]) -> list[str]:
    """The PostgreSQL types of `table`'s `columns`, named as the data contract names them."""
    with conn.cursor() as cur:
        cur.execute(
            """SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
               WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped""",
            (sql.Identifier(table).as_string(conn),),
        )
        types = dict(cur.fetchall())
    return [types[c] for c in columns]


_NULL = "\\N"  # COPY's usual NULL marker; a text value of exactly \N would read back as NULL


def read_frame(
    conn: Connection, query: sql.Composable, params: tuple | dict = (), dtypes: dict[str, str] | None = None
) -> pd.DataFrame:
    """Run a SELECT and return its rows as a DataFrame, through COPY ... TO STDOUT.

    Parameters are bound by psycopg2 (mogrify) before the query is wrapped in COPY.
    NULL travels as an explicit marker, so text such as "NA", "null" or "" stays text.
    Columns named in `dtypes` get exactly those pandas dtypes; the others are inferred
    from their values, which is fine for counts and dates, never for staged data (a
    float column holding only whole numbers would come back as integers).
    """
    with conn.cursor() as cur:
        bound = cur.mogrify(query, params).decode()
        buf = io.BytesIO()
        cur.copy_expert(f"COPY ({bound}) TO STDOUT WITH (FORMAT csv, HEADER true, NULL '{_NULL}')", buf)
    buf.seek(0)
    parsed = {name: "string" if _is_datetime(d) else d for name, d in (dtypes or {}).items()}
    frame = pd.read_csv(
        buf, keep_default_na=False, na_values=[_NULL], dtype=parsed, true_values=["t"], false_values=["f"]
    )
    return as_dtypes(frame, dtypes or {})


def as_dtypes(frame: pd.DataFrame, dtypes: dict[str, str]) -> pd.DataFrame:
    """`frame` with the columns named in `dtypes` (those it has) cast to them, in place."""
    for name, dtype in dtypes.items():
        if name in frame.columns:
            if _is_datetime(dtype):
                frame[name] = pd.to_datetime(frame[name], utc="UTC" in dtype).astype(dtype)
            elif dtype == "boolean" and frame[name].dtype.kind != "b":  # COPY's text: t and f
                frame[name] = frame[name].map(_BOOLEANS.get, na_action="ignore").astype(dtype)
            elif str(frame[name].dtype) != dtype:
                frame[name] = frame[name].astype(dtype)
    return frame


_BOOLEANS = {"t": True, "f": False, True: True, False: False}


def _is_datetime(dtype: str) -> bool:
    return dtype.startswith("datetime64")


def stream_frames(
    conn: Connection, query: sql.Composable, params: tuple | dict, chunk_rows: int, typed: bool = False
) -> Iterator[pd.DataFrame]:
    """Stream a SELECT in frames of exactly `chunk_rows` (the last one smaller), through COPY.

    Several times faster than a server-side cursor, which builds a Python object per
    value (1M rows: 2.1 s down to 0.4 s, see benchmarks/extraction.py). A thread runs `COPY (query) TO STDOUT`
    into a pipe and pyarrow's streaming CSV reader parses it here, so memory holds
    one frame plus a few MB of buffers whatever the row count. Integer columns come
    as Int64 (NULLs do not turn them into floats), float columns as float64, all
    others as strings; `typed`: booleans as boolean, dates and UTC times as
    datetime64, parsed by pyarrow too. `conn` is busy until the iterator ends; closing it early
    cancels the COPY. Yields at least one frame, empty if there are no rows, so the
    caller learns the column names. Parameters are bound by psycopg2 (mogrify).
    """
    with conn.cursor() as cur:
        body = cur.mogrify(query, params).decode().strip().rstrip(";")
        # The columns and their types; body is the query with its parameters bound by psycopg2.
        cur.execute(f"SELECT * FROM (\n{body}\n) AS q LIMIT 0")  # noqa: S608
        described = cur.description
    names = [d.name for d in described]
    keys = [f"c{i}" for i in range(len(names))]  # positional: a query may repeat a name
    types = [(_TYPED if typed else _ARROW_TYPES).get(d.type_code, pa.string()) for d in described]
    schema = pa.schema(list(zip(keys, types, strict=True)))
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            with open(write_fd, "wb", buffering=_PIPE_BYTES) as sink, conn.cursor() as cur:
                cur.copy_expert(f"COPY (\n{body}\n) TO STDOUT WITH (FORMAT csv)", sink)
        except BaseException as exc:  # re-raised by the consumer, which owns the error
            failure.append(exc)

    def frame(table: pa.Table) -> pd.DataFrame:
        out = table.to_pandas(types_mapper=_PANDAS_TYPES.get, date_as_object=False)
        out.columns = names
        return out

    def stop(cancel: bool) -> None:
        if cancel:
            conn.cancel()  # stop the server; a thread blocked on the full pipe sees it close
        source.close()
        thread.join()

    def check_copy() -> None:  # only once the stream has ended: the thread has closed its end
        thread.join()
        if failure:
            raise failure[0]

    source = open(read_fd, "rb", buffering=1 << 16)
    thread = threading.Thread(target=pump, name="copy-out", daemon=True)
    thread.start()
    stopped = False
    try:
        if not source.peek(1):  # no rows, or the COPY failed before sending any
            check_copy()
            yield frame(schema.empty_table())
            return
        try:
            reader = pacsv.open_csv(
                source,
                read_options=pacsv.ReadOptions(column_names=keys, use_threads=False, block_size=_BLOCK_BYTES),
                # A quoted value may hold a newline: without this, one that straddles two blocks
                # is split into two rows, failing the parse.
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types=schema,
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,  # COPY's CSV: "" is an empty string, empty is NULL
                    true_values=["t"],
                    false_values=["f"],
                ),
            )
            pending, count, yielded = [], 0, False
            for batch in reader:
                pending.append(batch)
                count += batch.num_rows
                while count >= chunk_rows:
                    table = pa.Table.from_batches(pending, schema=schema)
                    rest = table.slice(chunk_rows)
                    pending, count = rest.to_batches(), rest.num_rows
                    yielded = True
                    yield frame(table.slice(0, chunk_rows))
        except pa.ArrowException:
            copying = thread.is_alive()
            stopped = True
            stop(cancel=copying)
            if failure and not copying:  # the COPY failed first and truncated the stream
                raise failure[0] from None
            raise
        check_copy()  # the stream ended: make sure it is because the COPY finished
        if count or not yielded:
            yield frame(pa.Table.from_batches(pending, schema=schema))
    finally:
        if not stopped:
            stop(cancel=thread.is_alive())
