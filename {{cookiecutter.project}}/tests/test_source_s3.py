"""The S3 source against moto (conftest's `fake_s3`): chunked reads, reruns, bad input, S3 unreachable.

Each failure case compares the warehouse before and after with SQL: a failed
extraction leaves it exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import socket
from dataclasses import replace
from urllib.parse import urlsplit

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from {{ cookiecutter.project }}.datasets import CUSTOMER_SNAPSHOTS
from {{ cookiecutter.project }}.demo_data import snapshots, with_defect
from {{ cookiecutter.project }}.extraction import ExtractError, extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source

EARLIER, DAY = dt.date(2025, 3, 3), dt.date(2025, 3, 4)
COLUMNS = list(CUSTOMER_SNAPSHOTS.columns)
DTYPES = {
    "entity_id": "Int64",
    "tenure_months": "Int64",
    "monthly_spend": "Float64",
    "support_tickets": "Int64",
    "plan": "str",
    "last_login_days": "Int64",
}
# Strings that break naive CSV or SQL handling; None is NULL, "" the empty string.
HOSTILE = ["it's", 'say "hi"', '"', "'", "a;b", "'; DROP TABLE x; --", "a,b,c", "x" * 10_000,
           "naïve café 日本語 🙂", "line1\nline2", "cr\r\nlf", "\ttab", "back\\slash", "\\N",
           "NA", "null", "", " padded ", None]  # fmt: skip


def publish(settings, day: dt.date, frame: pd.DataFrame) -> None:
    open_source(settings).publish(CUSTOMER_SNAPSHOTS, Interval.day(day), frame)


def day_uri(settings, day: dt.date) -> str:
    return f"{settings.s3_source_uri}/customer_snapshots/dt={day}/"


def put(client, settings, day: dt.date, name: str, body: bytes) -> None:
    uri = urlsplit(day_uri(settings, day))
    client.put_object(Bucket=uri.netloc, Key=uri.path.lstrip("/") + name, Body=body)


def warehouse_state(sql) -> dict:
    """Everything an extraction writes, for before / after comparisons."""
    return {
        "rows": sql("SELECT * FROM staging_customer_snapshots ORDER BY logical_date, entity_id"),
        "batches": sql("SELECT * FROM staging_batches ORDER BY dataset, logical_date"),
    }


@pytest.fixture
def settings(settings):
    """The shared fixture's, with an S3 prefix of this test's own in conftest's moto bucket."""
    return replace(settings, s3_source_uri=f"{settings.s3_source_uri}/{settings.schema}")


@pytest.fixture
def s3(settings):
    return boto3.client("s3", region_name=settings.aws_region)


@pytest.fixture
def staged_days(settings, sql, s3) -> dict:
    """EARLIER and DAY extracted from clean objects (20 rows each); the warehouse state."""
    for day in (EARLIER, DAY):
        publish(settings, day, snapshots(day, entities=20))
        assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(day), "good") == 20
    return warehouse_state(sql)


def test_reads_csv_and_parquet_objects_in_chunks_in_key_order(settings, s3):
    frame = snapshots(DAY, entities=50)
    frame.loc[[3, 40], "monthly_spend"] = None  # NULLs in some chunks, not in the others
    publish(settings, DAY, frame.head(30))  # part-00000.csv
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.tail(20)), parquet, row_group_size=10)
    put(s3, settings, DAY, "part-00001.parquet", parquet.getvalue())
    put(s3, settings, DAY, "_SUCCESS", b"")  # a writer's marker: not data
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(CUSTOMER_SNAPSHOTS, Interval.day(DAY)))

    assert len(chunks) >= 8 and max(map(len, chunks)) <= 7
    assert all(chunk.dtypes.astype(str).to_dict() == DTYPES for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), frame.astype(DTYPES))


def test_extracting_a_day_twice_leaves_identical_staging(settings, sql, s3):
    publish(settings, DAY, snapshots(DAY, entities=30))
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 30
    first = warehouse_state(sql)["rows"]

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r2") == 30

    assert warehouse_state(sql)["rows"] == first and len(first) == 30
    assert sql("SELECT row_count, run_id FROM staging_batches") == [(30, "r2")]


def test_an_object_with_no_rows_is_an_empty_batch(settings, sql, s3):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "empty"))

    [chunk] = open_source(settings).read(CUSTOMER_SNAPSHOTS, Interval.day(DAY))
    assert chunk.empty and list(chunk.columns) == COLUMNS
    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 0
    assert sql("SELECT row_count, source_columns FROM staging_batches") == [(0, COLUMNS)]


def test_an_empty_prefix_is_an_error_not_an_empty_batch(settings, sql, s3, staged_days):
    later = DAY + dt.timedelta(days=1)
    with pytest.raises(SourceError, match=re.escape(f"no objects under {day_uri(settings, later)}")):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(later), "bad")
    put(s3, settings, later, "_SUCCESS", b"")
    with pytest.raises(SourceError, match=r"no objects under .* \(ignored: _SUCCESS\)"):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


def test_renamed_column_reaches_staging_as_drift(settings, sql, s3):
    publish(settings, DAY, with_defect(snapshots(DAY, entities=10), "renamed_column"))

    assert extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == 10

    [(columns,)] = sql("SELECT source_columns FROM staging_batches")
    assert "monthly_spend" not in columns and "spend_monthly" in columns
    assert sql("SELECT count(*) FROM staging_customer_snapshots WHERE monthly_spend IS NULL") == [(10,)]


def test_text_in_a_numeric_column_fails_with_no_partial_write(settings, sql, staged_days):
    frame = snapshots(DAY, entities=30).astype({"tenure_months": "str"})
    frame.loc[29, "tenure_months"] = "twelve"  # in the last chunk: earlier chunks were copied
    publish(settings, DAY, frame)

    with pytest.raises(ExtractError, match=r"tenure_months: 1 value\(s\) are not a number.*twelve"):
        extract(replace(settings, chunk_rows=7), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")

    assert warehouse_state(sql) == staged_days


def test_hostile_strings_round_trip_byte_exact(settings, sql, s3):
    sql("CREATE TABLE x (id int)")
    frame = snapshots(DAY, entities=len(HOSTILE))
    frame["plan"] = pd.array(HOSTILE, dtype="string")
    publish(settings, DAY, frame)

    assert extract(replace(settings, chunk_rows=5), CUSTOMER_SNAPSHOTS, Interval.day(DAY), "r1") == len(
        HOSTILE
    )

    assert [
        row[0] for row in sql("SELECT plan FROM staging_customer_snapshots ORDER BY entity_id")
    ] == HOSTILE
    assert sql("SELECT count(*) FROM x") == [(0,)]


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4  # an image named .csv


@pytest.mark.parametrize(("name", "body"), [
    pytest.param("part-00000.csv", BINARY, id="binary"),
    pytest.param("part-00000.csv", b'entity_id,plan\n1,"pro\n2,basic\n', id="unbalanced-quotes"),
    pytest.param("part-00000.parquet", b"PAR1 this is not parquet", id="not-parquet"),
])  # fmt: skip
def test_an_invalid_object_is_a_source_error_naming_it(settings, sql, s3, staged_days, name, body):
    later = DAY + dt.timedelta(days=1)
    put(s3, settings, later, name, body)
    kind = "Parquet" if name.endswith(".parquet") else "CSV"

    with pytest.raises(
        SourceError, match=re.escape(f"{day_uri(settings, later)}{name} is not valid {kind}: ")
    ):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


def test_missing_bucket_is_a_source_error_and_writes_nothing(settings, sql, staged_days):
    elsewhere = replace(settings, s3_source_uri="s3://no-such-bucket-here/incoming")
    with pytest.raises(SourceError, match=r"listing s3://no-such-bucket-here/incoming/.* \(NoSuchBucket\)"):
        extract(elsewhere, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days


def test_unreachable_endpoint_is_a_source_error_and_writes_nothing(settings, sql, staged_days, monkeypatch):
    with socket.socket() as probe:  # a local port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")  # moto lets it through

    with pytest.raises(SourceError, match="listing s3://.* Could not connect to the endpoint URL"):
        extract(settings, CUSTOMER_SNAPSHOTS, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days
