"""S3 source: CSV or Parquet objects under one prefix per dataset and day.

    <SOURCE_S3_URI>/<dataset>/dt=YYYY-MM-DD/*.csv | *.parquet

Every .csv / .parquet object directly under the day's prefix (each day's, for an
interval of several days) is part of the batch, read in key order; other objects
(such as `_SUCCESS` markers) and sub-prefixes (a writer's `_temporary/`) are ignored.

Each object is downloaded to a temporary file and read from there in chunks of
EXTRACT_CHUNK_ROWS, so memory does not grow with the object (Parquet needs random
access anyway, and boto3 retries a broken download by parts, which a long streaming
read could not).

boto3 finds credentials and the endpoint as usual (instance role, AWS_PROFILE,
AWS_ENDPOINT_URL_S3, ...); the region is AWS_REGION.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import boto3
import pandas as pd
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ..config import ConfigError, Settings
from ..datasets import Dataset
from ..interval import Interval
from . import SourceError, formats

# Fail within seconds when S3 cannot be reached: the Airflow task's own retries,
# minutes apart, are what should wait out an outage.
_CLIENT_CONFIG = Config(connect_timeout=10, read_timeout=60, retries={"max_attempts": 3, "mode": "standard"})


class S3Source:
    def __init__(self, uri: str, region: str, chunk_rows: int, owner: str | None = None):
        parts = urlsplit(uri)
        if parts.scheme != "s3" or not parts.netloc:
            raise ConfigError(f"SOURCE_S3_URI={uri!r}: expected s3://bucket/prefix")
        self.bucket, self.prefix = parts.netloc, parts.path.strip("/")
        self.chunk_rows = chunk_rows
        self.client = boto3.client("s3", region_name=region, config=_CLIENT_CONFIG)
        self.owner = {"ExpectedBucketOwner": owner} if owner else {}  # S3_BUCKET_OWNER
        self.description = uri

    def day_prefix(self, dataset: Dataset, day: date) -> str:
        return "/".join(p for p in (self.prefix, dataset.name, f"dt={day.isoformat()}") if p) + "/"

    def read(self, dataset: Dataset, interval: Interval) -> Iterator[pd.DataFrame]:
        for day in interval.days():
            for key in self.keys(dataset, day):
                uri = f"s3://{self.bucket}/{key}"
                with tempfile.TemporaryDirectory(prefix="s3-source-") as tmp:
                    local = Path(tmp, PurePosixPath(key).name)
                    with _s3_errors(f"downloading {uri}"):
                        self.client.download_file(self.bucket, key, str(local), ExtraArgs=self.owner)
                    yield from formats.read(local, dataset, self.chunk_rows, uri)

    def keys(self, dataset: Dataset, day: date) -> list[str]:
        """The day's data objects; an empty prefix is an error (no upload yet), not an empty batch."""
        prefix = self.day_prefix(dataset, day)
        with _s3_errors(f"listing s3://{self.bucket}/{prefix}"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix, Delimiter="/", **self.owner
            )
            keys = sorted(obj["Key"] for page in pages for obj in page.get("Contents", []))
        data = [key for key in keys if key.endswith(formats.SUFFIXES)]
        if not data:
            ignored = f" (ignored: {', '.join(k.removeprefix(prefix) for k in keys[:5])})" if keys else ""
            uri = f"s3://{self.bucket}/{prefix}"
            raise SourceError(f"no objects under {uri} ending .csv or .parquet{ignored}")
        return data

    def commit(self, dataset: Dataset, interval: Interval) -> None:
        """Nothing to do: the objects are the upstream's, immutable once written; a rerun
        reads them again, and the bucket's lifecycle rules, not the pipeline, expire them."""

    def create_bucket(self) -> None:
        """Create the bucket in the client's region: for the demo and the tests."""
        region = self.client.meta.region_name
        location = (
            {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        )
        self.client.create_bucket(Bucket=self.bucket, **location)

    def publish(self, dataset: Dataset, interval: Interval, frame: pd.DataFrame) -> None:
        """Write the day's batch as one CSV object, replacing what an earlier publish wrote."""
        key = self.day_prefix(dataset, interval.partition) + "part-00000.csv"
        self.client.put_object(Bucket=self.bucket, Key=key, Body=formats.csv_bytes(frame), **self.owner)


@contextmanager
def _s3_errors(action: str) -> Iterator[None]:
    """Unreachable endpoint, missing bucket, denied access, missing credentials: a SourceError."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise SourceError(f"{action} failed: {exc}") from exc


def open_source(settings: Settings) -> S3Source:
    return S3Source(
        settings.s3_source_uri, settings.aws_region, settings.chunk_rows, settings.s3_bucket_owner
    )
