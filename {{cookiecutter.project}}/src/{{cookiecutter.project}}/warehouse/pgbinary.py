"""PostgreSQL's binary COPY format, encoded a column at a time with numpy and pyarrow.

The server then stores values as they come, with no text to parse (a float's
digits cost it most), and the client writes fixed-width values as they are in
memory, byte-swapped, instead of printing them: measured, encoding is about ten
times faster than pyarrow's CSV writer. Each field is its length (int32, -1 for
NULL) then its bytes; each row starts with its field count (int16). The column
types are those of the data contract (datasets.TYPES), by PostgreSQL name.
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
    fields = [_fixed_width(count)] + [_field(frame.iloc[:, i], t) for i, t in enumerate(types)]
    joined = pc.binary_join_element_wise(*fields, b"")
    offsets = np.frombuffer(
        joined.buffers()[1], dtype=np.int32, count=len(joined) + 1, offset=4 * joined.offset
    )
    start, end = int(offsets[0]), int(offsets[-1])
    return joined.buffers()[2].slice(start, end - start).to_pybytes()


def _field(values: pd.Series, pg_type: str) -> pa.Array:
    """Each value as a field: its length, then its bytes; NULL as length -1."""
    missing = values.isna().to_numpy(dtype=bool)
    if pg_type == "text":
        text = pa.array(values.astype("string"), type=pa.string()).cast(pa.binary())
        lengths = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(">i4")
        field = pc.binary_join_element_wise(_fixed_width(lengths), text, b"")
    else:
        layout, numbers = _FIXED[pg_type]
        record = np.empty(len(values), dtype=[("length", ">i4"), ("value", layout)])
        record["length"] = np.dtype(layout).itemsize
        record["value"] = numbers(values)
        field = _fixed_width(record)
    return pc.if_else(pa.array(missing), _NULL, field) if missing.any() else field


def _fixed_width(array: np.ndarray) -> pa.Array:
    """A numpy array's elements as binary values, without copying each one."""
    size = array.dtype.itemsize
    fixed = pa.FixedSizeBinaryArray.from_buffers(pa.binary(size), len(array), [None, pa.py_buffer(array)])
    return fixed.cast(pa.binary())


def _since(values: pd.Series, unit: str, epoch: np.datetime64) -> np.ndarray:
    """Dates or UTC times as whole days or microseconds since PostgreSQL's epoch."""
    times = pd.to_datetime(values, utc=True).dt.tz_localize(None)
    return (times.to_numpy(dtype=f"datetime64[{unit}]", na_value=epoch) - epoch).astype("int64")
