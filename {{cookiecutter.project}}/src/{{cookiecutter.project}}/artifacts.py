"""Where model files live: a local folder by default, or `s3://bucket/prefix` via boto3."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit


def put(root: str, name: str, data: bytes, region: str) -> str:
    """Store `data` under root/name and return its URI."""
    if root.startswith("s3://"):
        bucket, key = _s3_location(f"{root.rstrip('/')}/{name}")
        _s3(region).put_object(Bucket=bucket, Key=key, Body=data)
        return f"s3://{bucket}/{key}"
    path = Path(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # readers never see half a file
    return str(path)


def get(uri: str, region: str) -> bytes:
    if uri.startswith("s3://"):
        bucket, key = _s3_location(uri)
        return _s3(region).get_object(Bucket=bucket, Key=key)["Body"].read()
    return Path(uri).read_bytes()


def _s3_location(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def _s3(region: str):
    import boto3

    return boto3.client("s3", region_name=region)
