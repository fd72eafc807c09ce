"""The S3 source against moto (conftest's `fake_s3`): objects in key order, empty
prefixes, invalid objects, a missing bucket, S3 unreachable.

What every adapter does (chunked reads, reruns, bad input, hostile strings) is tested
in tests/test_source_contract.py. Each failure case compares the warehouse before and
after with SQL: a failed extraction leaves it exactly as it was. conftest's `settings`
give each test an S3 prefix of its own in the moto bucket.
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
from conftest import DAY, FEATURES, column_of, publish, warehouse_state

from {{ cookiecutter.project }}.extraction import extract
from {{ cookiecutter.project }}.interval import Interval
from {{ cookiecutter.project }}.sources import SourceError, open_source
from {{ cookiecutter.project }}.staging import conform
from {{ cookiecutter.project }}.synthetic import features


def day_uri(settings, day: dt.date) -> str:
    return f"{settings.s3_source_uri}/{FEATURES.name}/dt={day}/"


def put(client, settings, day: dt.date, name: str, body: bytes) -> None:
    uri = urlsplit(day_uri(settings, day))
    client.put_object(Bucket=uri.netloc, Key=uri.path.lstrip("/") + name, Body=body)


@pytest.fixture
def s3(settings):
    return boto3.client("s3", region_name=settings.aws_region)


def test_reads_csv_and_parquet_objects_in_chunks_in_key_order(settings, s3):
    frame = features(DAY, entities=50)
    frame.loc[[3, 40], column_of("Int64", "Float64")] = None  # NULLs in some chunks, not in the others
    publish(settings, DAY, frame.head(30))  # part-00000.csv
    parquet = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame.tail(20)), parquet, row_group_size=10)
    put(s3, settings, DAY, "part-00001.parquet", parquet.getvalue())
    put(s3, settings, DAY, "_SUCCESS", b"")  # a writer's marker: not data
    source = open_source(replace(settings, chunk_rows=7))

    chunks = list(source.read(FEATURES, Interval.day(DAY)))

    assert len(chunks) >= 8 and max(map(len, chunks)) <= 7  # CSV and Parquet chunks: each typed as its file
    got = conform(pd.concat(chunks, ignore_index=True), FEATURES, DAY)
    pd.testing.assert_frame_equal(got, conform(frame, FEATURES, DAY))


def test_every_call_names_the_bucket_owner_when_set(settings, s3):
    """S3_BUCKET_OWNER: a bucket of the same name in another account is never read (on AWS, 403)."""
    publish(settings, DAY, features(DAY, entities=5))
    source = open_source(replace(settings, s3_bucket_owner="123456789012"))
    sent = []
    source.client.meta.events.register(
        "provide-client-params.s3",
        lambda params, model, **kw: sent.append((model.name, params.get("ExpectedBucketOwner"))),
    )
    list(source.read(FEATURES, Interval.day(DAY)))
    assert {"ListObjectsV2", "GetObject"} <= {name for name, _ in sent}
    assert {owner for _, owner in sent} == {"123456789012"}


def test_an_empty_prefix_is_an_error_not_an_empty_batch(settings, sql, s3, staged_days):
    later = DAY + dt.timedelta(days=1)
    with pytest.raises(SourceError, match=re.escape(f"no objects under {day_uri(settings, later)}")):
        extract(settings, FEATURES, Interval.day(later), "bad")
    put(s3, settings, later, "_SUCCESS", b"")
    with pytest.raises(SourceError, match=r"no objects under .* \(ignored: _SUCCESS\)"):
        extract(settings, FEATURES, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


BINARY = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4  # an image named .csv


@pytest.mark.parametrize(("name", "body"), [
    pytest.param("part-00000.csv", BINARY, id="binary"),
    pytest.param("part-00000.csv", b'key,value\n1,"open\n2,closed\n', id="unbalanced-quotes"),
    pytest.param("part-00000.parquet", b"PAR1 this is not parquet", id="not-parquet"),
])  # fmt: skip
def test_an_invalid_object_is_a_source_error_naming_it(settings, sql, s3, staged_days, name, body):
    later = DAY + dt.timedelta(days=1)
    put(s3, settings, later, name, body)
    kind = "Parquet" if name.endswith(".parquet") else "CSV"

    with pytest.raises(
        SourceError, match=re.escape(f"{day_uri(settings, later)}{name} is not valid {kind}: ")
    ):
        extract(settings, FEATURES, Interval.day(later), "bad")
    assert warehouse_state(sql) == staged_days


def test_missing_bucket_is_a_source_error_and_writes_nothing(settings, sql, staged_days):
    elsewhere = replace(settings, s3_source_uri="s3://no-such-bucket-here/incoming")
    with pytest.raises(SourceError, match=r"listing s3://no-such-bucket-here/incoming/.* \(NoSuchBucket\)"):
        extract(elsewhere, FEATURES, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days


def test_unreachable_endpoint_is_a_source_error_and_writes_nothing(settings, sql, staged_days, monkeypatch):
    with socket.socket() as probe:  # a local port nothing listens on: refused at once
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", f"http://127.0.0.1:{port}")  # moto lets it through

    with pytest.raises(SourceError, match="listing s3://.* Could not connect to the endpoint URL"):
        extract(settings, FEATURES, Interval.day(DAY), "bad")
    assert warehouse_state(sql) == staged_days
