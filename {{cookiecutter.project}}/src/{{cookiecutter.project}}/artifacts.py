"""Where model files live: a local folder by default, or `s3://bucket/prefix` via boto3.

`owner`, when given, is the account that must own the bucket (ExpectedBucketOwner).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit


def put(root: str, name: str, data: bytes, region: str, owner: str | None = None) -> str:
    """Store `data` under root/name and return its URI."""
    if root.startswith("s3://"):
        bucket, key = _s3_location(f"{root.rstrip('/')}/{name}")
        _s3(region).put_object(Bucket=bucket, Key=key, Body=data, **_owner(owner))
        return f"s3://{bucket}/{key}"
    path = Path(root) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # readers never see half a file
    return str(path)


def get(uri: str, region: str, owner: str | None = None) -> bytes:
    if uri.startswith("s3://"):
        bucket, key = _s3_location(uri)
        return _s3(region).get_object(Bucket=bucket, Key=key, **_owner(owner))["Body"].read()
    return Path(uri).read_bytes()


def within(uri: str, root: str) -> bool:
    """Whether `uri` names a file under `root` (no `..`, no other bucket or folder)."""
    if root.startswith("s3://") or uri.startswith("s3://"):
        (bucket, key), (root_bucket, prefix) = _s3_location(uri), _s3_location(root)
        parts = PurePosixPath(key).parts
        return bucket == root_bucket and ".." not in parts and key.startswith(prefix.rstrip("/") + "/")
    return Path(uri).resolve().is_relative_to(Path(root).resolve())


def _owner(owner: str | None) -> dict[str, str]:
    return {"ExpectedBucketOwner": owner} if owner else {}


def _s3_location(uri: str) -> tuple[str, str]:
    parts = urlsplit(uri)
    return parts.netloc, parts.path.lstrip("/")


def _s3(region: str):
    import boto3

    return boto3.client("s3", region_name=region)
