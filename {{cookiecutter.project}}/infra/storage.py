"""S3: the data bucket (artifacts/, incoming/, releases/), its log bucket, and the release.

Every call names the account that must own the bucket (ExpectedBucketOwner), and a
bucket found by name is adopted only when this account owns it: a bucket name is
global, so anyone may have created it first.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from botocore.exceptions import ClientError

from .plan import PROJECT_ROOT, RELEASE_MANIFEST, Plan, Refused
from .release import Release, build
from .steps import NOT_FOUND, Step, code, get, tag_dict

BLOCK_ALL = dict.fromkeys(
    ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
)
LOG_PREFIXES = {"access": "s3-access/", "sessions": "ssm-sessions/"}


class Storage:
    def __init__(self, plan: Plan, session, source: Path = PROJECT_ROOT):
        self.plan, self.source = plan, source
        self.s3 = session.client("s3")
        self.partition = session.get_partition_for_region(plan.region)
        self.owner = {"ExpectedBucketOwner": plan.account}

    def steps(self) -> list[Step]:
        p = self.plan
        return [
            self._bucket_step(p.log_bucket, logs=True),
            self.data_step(),
            Step(
                "s3 object",
                f"s3://{p.bucket}/{RELEASE_MANIFEST}",
                self.find_manifest,
                lambda: self.upload(build(self.source)),
                tags=None,  # inside the data bucket, checked just before
            ),
        ]

    def data_step(self) -> Step:
        return self._bucket_step(self.plan.bucket, logs=False)

    def _bucket_step(self, bucket: str, logs: bool) -> Step:
        return Step(
            "s3 bucket",
            bucket,
            lambda: self.find_bucket(bucket),
            lambda: self.create_bucket(bucket, logs),
            tags=lambda found: self.bucket_tags(bucket),
            delete=lambda found: self.delete_bucket(bucket),
            drift=lambda found: self.drift(bucket, logs),
            fix=lambda found: self.harden(bucket, logs),
            holds_data=lambda found: bool(self.versions(bucket)),
        )

    # Buckets --------------------------------------------------------------------------------
    def find_bucket(self, bucket: str) -> str | None:
        """The bucket if it exists and this account owns it; refuses one owned by another."""
        try:
            self.s3.head_bucket(Bucket=bucket, **self.owner)  # 403 when another account owns it
        except ClientError as exc:
            if code(exc) in NOT_FOUND:
                return None
            if code(exc) not in ("403", "AccessDenied"):
                raise
        if bucket not in self.owned(bucket):
            raise Refused(
                f"s3 bucket {bucket} exists but account {self.plan.account} does not own it: "
                "someone else holds that name; choose another with --bucket"
            )
        return bucket

    def owned(self, prefix: str) -> set[str]:
        """This account's buckets whose names start with `prefix`."""
        pages = self.s3.get_paginator("list_buckets").paginate(Prefix=prefix)
        return {b["Name"] for page in pages for b in page.get("Buckets", [])}

    def create_bucket(self, bucket: str, logs: bool) -> None:
        region = self.plan.region
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        try:
            self.s3.create_bucket(Bucket=bucket, **where)
        except ClientError as exc:
            if code(exc) == "BucketAlreadyExists":  # taken since find_bucket looked
                raise Refused(
                    f"s3 bucket {bucket} was just created by another account: use --bucket"
                ) from exc
            raise
        self.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": self.plan.tags(bucket)}, **self.owner)
        self.harden(bucket, logs)

    def harden(self, bucket: str, logs: bool) -> None:
        """The security settings, set again whatever they are now; lifecycle and logging too."""
        s3, owner = self.s3, self.owner
        s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=BLOCK_ALL, **owner)
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}, **owner)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
            **owner,
        )
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(self.bucket_policy(bucket, logs)), **owner)
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": self.lifecycle(logs)}, **owner
        )
        if not logs:
            s3.put_bucket_logging(
                Bucket=bucket,
                BucketLoggingStatus={
                    "LoggingEnabled": {
                        "TargetBucket": self.plan.log_bucket,
                        "TargetPrefix": self.access_log_prefix,
                    }
                },
                **owner,
            )

    @property
    def access_log_prefix(self) -> str:
        return f"{LOG_PREFIXES['access']}{self.plan.bucket}/"

    def lifecycle(self, logs: bool) -> list[dict]:
        rule = {"Status": "Enabled", "Filter": {"Prefix": ""}}
        rules = [
            {
                **rule,
                "ID": "expire-old-versions",
                "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            }
        ]
        if logs:
            rules.append({**rule, "ID": "expire-logs", "Expiration": {"Days": 365}})
        return rules

    def bucket_policy(self, bucket: str, logs: bool) -> dict:
        arn = f"arn:{self.partition}:s3:::{bucket}"
        statements = [
            {
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": {"AWS": "*"},  # the same as "*"
                "Action": "s3:*",
                "Resource": [arn, f"{arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ]
        if logs:  # S3 server access logs of the data bucket, from this account only
            statements.append(
                {
                    "Sid": "AccessLogDelivery",
                    "Effect": "Allow",
                    "Principal": {"Service": "logging.s3.amazonaws.com"},
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/{self.access_log_prefix}*",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": self.plan.account},
                        "ArnLike": {"aws:SourceArn": f"arn:{self.partition}:s3:::{self.plan.bucket}"},
                    },
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

    def drift(self, bucket: str, logs: bool) -> list[str]:
        """Security settings that differ from what apply sets."""
        s3, owner = self.s3, self.owner
        found = []
        block = get(s3.get_public_access_block, "PublicAccessBlockConfiguration", Bucket=bucket, **owner)
        if block != BLOCK_ALL:
            found.append("public access not blocked")
        if get(s3.get_bucket_encryption, Bucket=bucket, **owner) is None:
            found.append("no default encryption")
        if s3.get_bucket_versioning(Bucket=bucket, **owner).get("Status") != "Enabled":
            found.append("versioning off")
        policy = get(s3.get_bucket_policy, "Policy", Bucket=bucket, **owner)
        if policy is None or json.loads(policy) != self.bucket_policy(bucket, logs):
            found.append("bucket policy changed")
        if not logs and "LoggingEnabled" not in s3.get_bucket_logging(Bucket=bucket, **owner):
            found.append("access logging off")
        return found

    def bucket_tags(self, bucket: str) -> dict[str, str]:
        return tag_dict(get(self.s3.get_bucket_tagging, "TagSet", Bucket=bucket, **self.owner))

    def versions(self, bucket: str) -> list[dict]:
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket, **self.owner)
        return [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in pages
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]

    def delete_bucket(self, bucket: str) -> str:
        objects = self.versions(bucket)
        for start in range(0, len(objects), 1000):
            self.s3.delete_objects(
                Bucket=bucket, Delete={"Objects": objects[start : start + 1000]}, **self.owner
            )
        self.s3.delete_bucket(Bucket=bucket, **self.owner)
        return "deleted"

    # The release ----------------------------------------------------------------------------
    def find_manifest(self) -> dict | None:
        body = get(self.s3.get_object, "Body", Bucket=self.plan.bucket, Key=RELEASE_MANIFEST, **self.owner)
        return None if body is None else json.loads(body.read())

    def upload(self, release: Release) -> dict:
        """The release under its own key, then the manifest naming its S3 version and sha256.

        The host reads releases/ only (its role cannot write there) and installs nothing
        that does not match the manifest: see infra/deploy.sh.
        """
        put = self.s3.put_object(
            Bucket=self.plan.bucket,
            Key=release.key,
            Body=release.data,
            Metadata={"sha256": release.sha256, "commit": release.commit},
            **self.owner,
        )
        if not put.get("VersionId"):
            raise Refused(f"s3 bucket {self.plan.bucket} has versioning off: run apply, which turns it on")
        manifest = {
            "key": release.key,
            "version_id": put["VersionId"],
            "sha256": release.sha256,
            "commit": release.commit,
            "uploaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.s3.put_object(
            Bucket=self.plan.bucket,
            Key=RELEASE_MANIFEST,
            Body=json.dumps(manifest, indent=1).encode(),
            ContentType="application/json",
            **self.owner,
        )
        return manifest
