"""CSV and Parquet files read in frames of bounded size, for the s3 and files sources.

CSV has no types, so every column is read as text: strings arrive exactly as they
were written ('007' stays '007', 'NA' stays 'NA'; only an empty unquoted field is
NULL, and a quoted "" is the empty string), and no chunk's dtypes depend on which
values it happens to hold. The columns the dataset declares numeric are then made
numbers in each chunk whose values all are; a column holding a value that is not
a number stays text, so that `extraction.conform` names the bad values as the file
wrote them. `NaN` is not a number here: Arrow would read it as one, and it would
reach the warehouse as NULL.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ..datasets import Dataset
from . import UnreadableFile

SUFFIXES = (".csv", ".parquet")
_PARSE = pacsv.ParseOptions(newlines_in_values=True)  # a quoted value may span lines
_TEXT = pd.api.types.pandas_dtype("str")
_NUMBERS = {"bigint": pa.int64(), "integer": pa.int64(), "double precision": pa.float64()}


def read(path: Path, dataset: Dataset, chunk_rows: int, name: str) -> Iterator[pd.DataFrame]:
    """Yield the rows of a local .csv or .parquet file in frames of at most `chunk_rows`.

    Yields at least one frame: a file with a header (or schema) and no rows gives an
    empty frame with its columns. `name` is how errors refer to the file.
    """
    kind = "Parquet" if path.suffix == ".parquet" else "CSV"
    try:
        opened = _parquet(path, chunk_rows) if kind == "Parquet" else _csv(path)
        with opened as reader:
            empty = True
            for batch in reader:
                for offset in range(0, batch.num_rows, chunk_rows):
                    empty = False
                    yield _frame(batch.slice(offset, chunk_rows), dataset)
            if empty:
                yield _frame(reader.schema.empty_table(), dataset)
    except (pa.ArrowInvalid, UnicodeDecodeError) as exc:  # pyarrow's errors for malformed content
        raise UnreadableFile(f"{name} is not valid {kind}: {exc}") from exc


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """`frame` as CSV, which `read` gives back value for value (NULL as an empty field, '' quoted)."""
    buf = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def _csv(path: Path) -> pa.RecordBatchReader:
    # pyarrow silently reads a quoted value left open up to the end of the file; in
    # valid CSV quotes come in pairs ("" inside a quoted value counts two).
    with open(path, "rb") as file:
        quotes = sum(block.count(b'"') for block in iter(lambda: file.read(1 << 20), b""))
    if quotes % 2:
        raise pa.ArrowInvalid(f"{quotes} double quotes, an odd number: a quoted value is never closed")
    with pacsv.open_csv(path, parse_options=_PARSE) as first_block:  # for the column names
        names = first_block.schema.names
    as_text = pacsv.ConvertOptions(
        column_types=dict.fromkeys(names, pa.string()),
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    return pacsv.open_csv(path, parse_options=_PARSE, convert_options=as_text)


def _parquet(path: Path, chunk_rows: int) -> pa.RecordBatchReader:
    # Decoded one row group at a time: memory also follows the writer's row group size.
    parquet = pq.ParquetFile(path)
    batches = parquet.iter_batches(batch_size=chunk_rows)
    return pa.RecordBatchReader.from_batches(parquet.schema_arrow, batches)


def _frame(table: pa.Table | pa.RecordBatch, dataset: Dataset) -> pd.DataFrame:
    for i, column in enumerate(table.column_names):
        number = _NUMBERS.get(dataset.types.get(column, ""))
        if number is not None and pa.types.is_string(table.schema.types[i]):
            try:
                numbers = table.column(i).cast(number)
            except pa.ArrowInvalid:
                continue  # not all numbers: left as text for extraction.conform to report
            if not (pa.types.is_floating(number) and pc.any(pc.is_nan(numbers)).as_py()):
                table = table.set_column(i, column, numbers)
    return table.to_pandas(types_mapper=_pandas_dtype)


def _pandas_dtype(arrow_type: pa.DataType):
    # Nullable numbers, so that a chunk with a NULL keeps its integers integers; text
    # as pandas 3's default `str`, whatever pandas metadata a Parquet writer stored.
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_floating(arrow_type):
        return pd.Float64Dtype()
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return _TEXT
    return None
