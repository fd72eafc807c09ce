"""One resource as the commands see it: how to find, create, check, fix and delete it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from botocore.exceptions import ClientError

NOT_FOUND = {
    "404",
    "NoSuchBucket",
    "NotFound",
    "NoSuchKey",
    "NoSuchEntity",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
    "DBParameterGroupNotFound",
    "ResourceNotFoundException",
    "ReplicationGroupNotFoundFault",
    "InvalidDocument",
    # A bucket setting that was never made:
    "NoSuchPublicAccessBlockConfiguration",
    "ServerSideEncryptionConfigurationNotFoundError",
    "NoSuchBucketPolicy",
    "NoSuchTagSet",
}


def code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def get(call: Callable, *path: str | int, **kwargs):
    """call(**kwargs)[path...], or None when AWS says the resource does not exist."""
    try:
        result = call(**kwargs)
    except ClientError as exc:
        if code(exc) in NOT_FOUND:
            return None
        raise
    for key in path:
        if isinstance(key, int) and len(result) <= key:  # an empty list: nothing by that name
            return None
        result = result[key]
    return result


def tag_dict(tags: list[dict] | None) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in tags or []}


def nothing(found) -> list[str]:
    return []


@dataclass
class Step:
    kind: str
    name: str
    find: Callable[[], object]  # the resource, or None; read-only calls only
    create: Callable[[], object]
    tags: Callable[[object], dict[str, str]] | None  # None: lives inside a resource checked already
    delete: Callable[[object], str] | None = None  # None: goes with another resource
    # Security settings that differ from what apply sets, and how to set them again.
    drift: Callable[[object], list[str]] = nothing
    fix: Callable[[object], object] | None = None
    wait: Callable[[], object] | None = None  # after create: until usable (--no-wait skips)
    holds_data: Callable[[object], bool] = lambda found: False  # destroy asks first
    protected: Callable[[object], bool] = lambda found: False  # destroy refuses
