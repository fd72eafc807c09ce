"""PostgreSQL's binary COPY format, encoded a column at a time with numpy and pyarrow.

The server then stores values as they come, with no text to parse (a float's
digits cost it most), and the client writes fixed-width values as they are in
memory, byte-swapped, instead of printing them. Each field is its length (int32,
-1 for NULL) then its bytes; each row starts with its field count (int16). The
column types are those of the data contract (datasets.TYPES), by PostgreSQL name.

When every field of a chunk has one width (numbers without NULLs, text of one
length such as a model version or a run id), the rows are one numpy record array;
otherwise pyarrow joins each row's fields.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)  # signature, flags, no header extension
TRAILER = b"\xff\xff"  # field count -1: end of data
_NULL = pa.scalar(b"\xff\xff\xff\xff", pa.binary())  # length -1, no bytes
_DAY0 = np.datetime64("2000-01-01", "D")  # PostgreSQL's epoch for dates and timestamps
_US0 = np.datetime64("2000-01-01T00:00:00", "us")
# Fixed-width types: their big-endian layout and how a column becomes those numbers.
_FIXED = {
    "bigint": (">i8", lambda s: s.to_numpy(dtype="int64", na_value=0)),
    "integer": (">i4", lambda s: s.to_numpy(dtype="int64", na_value=0)),
    "double precision": (">f8", lambda s: s.to_numpy(dtype="float64", na_value=np.nan)),
    "boolean": ("?", lambda s: s.to_numpy(dtype="bool", na_value=False)),
    "date": (">i4", lambda s: _since(s, "D", _DAY0)),
    "timestamp with time zone": (">i8", lambda s: _since(s, "us", _US0)),
}


def rows(frame: pd.DataFrame, types: list[str]) -> bytes:
    """The frame's rows in binary COPY format (no header or trailer), `types[i]` being the
    PostgreSQL type of column i."""
    count = np.full(len(frame), len(types), dtype=">i2")
    fields = [count] + [_field(frame.iloc[:, i], t) for i, t in enumerate(types)]
    if all(isinstance(f, np.ndarray) for f in fields):
        record = np.empty(len(frame), dtype=[(f"f{i}", f.dtype) for i, f in enumerate(fields)])
        for i, f in enumerate(fields):
            record[f"f{i}"] = f
        return record.tobytes()
    arrays = [f if isinstance(f, pa.Array) else _binary(f) for f in fields]
    joined = pc.binary_join_element_wise(*arrays, b"")
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=4 * joined.offset
    )
    start, end = int(offsets[0]), int(offsets[-1])
    return joined.buffers()[2].slice(start, end - start).to_pybytes()


def _field(values: pd.Series, pg_type: str) -> np.ndarray | pa.Array:
    """Each value as a field, its length then its bytes: a numpy record when all have one
    width, else a pyarrow binary array (NULL as length -1)."""
    missing = values.isna().to_numpy(dtype=bool)
    if pg_type == "text":
        return _text(values, missing)
    layout, numbers = _FIXED[pg_type]
    field = np.empty(len(values), dtype=[("length", ">i4"), ("value", layout)])
    field["length"] = np.dtype(layout).itemsize
    field["value"] = numbers(values)
    return pc.if_else(pa.array(missing), _NULL, _binary(field)) if missing.any() else field


def _text(values: pd.Series, missing: np.ndarray) -> np.ndarray | pa.Array:
    text = pa.array(values.astype("string"), type=pa.string()).cast(pa.binary())
    if isinstance(text, pa.ChunkedArray):  # a column pyarrow read in several blocks
        text = text.combine_chunks()
    lengths = pc.binary_length(text).fill_null(0).to_numpy()
    if len(text) and not missing.any() and lengths.min() == lengths.max() > 0:
        width = int(lengths[0])
        field = np.empty(len(text), dtype=[("length", ">i4"), ("value", f"S{width}")])
        field["length"] = width
        start = int(np.frombuffer(text.buffers()[1], dtype=np.int32, count=1, offset=4 * text.offset)[0])
        field["value"] = np.frombuffer(text.buffers()[2], dtype=f"S{width}", count=len(text), offset=start)
        return field
    return pc.binary_join_element_wise(_binary(lengths.astype(">i4")), text, b"").fill_null(_NULL)


def _binary(array: np.ndarray) -> pa.Array:
    """A numpy array's elements as binary values, without copying each one."""
    size = array.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), len(array), [None, pa.py_buffer(array)])
    return fixed.cast(pa.binary())


def _since(values: pd.Series, unit: str, epoch: np.datetime64) -> np.ndarray:
    """Dates or UTC times as whole days or microseconds since PostgreSQL's epoch."""
    times = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    return (times.to_numpy(dtype=f"datetime64[{unit}]", na_value=epoch) - epoch).astype("int64")
