"""Provision the AWS side with boto3: S3 + security groups + RDS PostgreSQL + IAM + EC2.

Run from the project root, with the project's venv and your AWS credentials:

    python -m infra.aws plan    --env prod   # what apply would do (read-only calls only)
    python -m infra.aws apply   --env prod   # create what is missing, say "exists" for the rest
    python -m infra.aws deploy  --env prod   # upload this checkout; the host installs it
    python -m infra.aws destroy --env test   # delete it all (prod also needs --yes)

Names are `<project>-<env>-...` (tagged Project, Env), so environments never collide
and apply finds what it made before. The region is the settings' AWS_REGION.

- S3 bucket `<project>-<env>-data`: artifacts/, incoming/ (the s3 source), releases/;
  versioned, public access blocked, encrypted, TLS only, old versions expire.
- security groups: the host's (no inbound: reach it through SSM Session Manager) and
  the database's (5432 from the host's group only).
- RDS PostgreSQL 16: encrypted, private, the master password generated and rotated
  by RDS in Secrets Manager; in prod deletion protection and a final snapshot.
- IAM role + instance profile for the host: the project bucket, that DB's secret and
  DescribeDBInstances on it (plus rds-db:connect with --iam-db-user), and
  AmazonSSMManagedInstanceCore for Session Manager and Run Command.
- EC2 instance (Ubuntu 24.04 by default, IMDSv2, encrypted disk) whose user data
  writes /etc/<project>/airflow.env and runs infra/deploy.sh.
"""

from __future__ import annotations

import argparse
import io
import json
import re
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, partial
from pathlib import Path

import boto3
from botocore.exceptions import ClientError, NoCredentialsError

from {{ cookiecutter.project }}.config import Settings

PROJECT = "{{ cookiecutter.project }}"
PROJECT_ROOT = Path(__file__).resolve().parents[1]
UBUNTU_AMI = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
SSM_CORE = "AmazonSSMManagedInstanceCore"
DB_ADMIN = "dbadmin"
RELEASE_KEY = "releases/current.tar.gz"
HOST_CODE = f"/opt/{PROJECT}"  # releases/<time>/ and the `current` link (see deploy.sh)
HOST_HOME = f"/var/lib/{PROJECT}"  # the airflow user's home: AIRFLOW_HOME and STATE_DIR
_ENV_NAME = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_NOT_FOUND = {
    "404",
    "NoSuchBucket",
    "NotFound",
    "NoSuchKey",
    "NoSuchEntity",
    "DBInstanceNotFound",
    "DBInstanceNotFoundFault",
}


def _slug(project: str) -> str:
    """`my_project` -> `my-project`: AWS names take hyphens, not underscores."""
    slug = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")[:40].rstrip("-")
    return slug if slug[:1].isalpha() else f"p{slug}"


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


@dataclass(frozen=True)
class Plan:
    """What one environment is made of: names and sizes, no AWS calls."""

    project: str
    env: str
    region: str
    bucket: str
    instance_type: str = "t3.large"
    db_class: str = "db.t4g.micro"
    db_storage_gb: int = 20
    ami_id: str | None = None
    ami_parameter: str = UBUNTU_AMI
    vpc_id: str | None = None
    subnet_id: str | None = None
    db_subnet_group: str | None = None
    iam_db_user: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings, env: str, bucket: str | None = None, **options) -> Plan:
        if not _ENV_NAME.match(env):
            raise ValueError(f"--env {env!r}: up to 12 lowercase letters and digits, e.g. prod or staging")
        return cls(PROJECT, env, settings.aws_region, bucket or f"{_slug(PROJECT)}-{env}-data", **options)

    @property
    def prefix(self) -> str:
        return f"{_slug(self.project)}-{self.env}"

    @property
    def prod(self) -> bool:
        return self.env == "prod"

    @property
    def host(self) -> str:
        """Name of the host's role, instance profile, security group and instance."""
        return f"{self.prefix}-airflow"

    @property
    def db(self) -> str:
        """Name of the RDS instance and its security group."""
        return f"{self.prefix}-db"

    @property
    def database(self) -> str:
        """The PostgreSQL database: Airflow's metadata in `public`, the warehouse in its schema."""
        return re.sub(r"^[^a-z]+", "", self.project)[:63] or "airflow"

    def tags(self, name: str) -> list[dict[str, str]]:
        return [
            {"Key": "Name", "Value": name},
            {"Key": "Project", "Value": self.project},
            {"Key": "Env", "Value": self.env},
            {"Key": "ManagedBy", "Value": "infra/aws.py"},
        ]

    def airflow_env(self) -> dict[str, str]:
        """/etc/<project>/airflow.env on the host; see infra/airflow.env.example.

        No secrets: infra/db_env.py adds the database URLs when each service starts.
        """
        data = f"s3://{self.bucket}"
        return {
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "DB_INSTANCE_ID": self.db,
            "DB_NAME": self.database,
            "RELEASE_URI": f"{data}/{RELEASE_KEY}",
            "ARTIFACTS_URI": f"{data}/artifacts",
            "SOURCE_S3_URI": f"{data}/incoming",
            "STATE_DIR": f"{HOST_HOME}/state",
            "AIRFLOW_HOME": f"{HOST_HOME}/airflow",
            "AIRFLOW__CORE__DAGS_FOLDER": f"{HOST_CODE}/current/dags",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        }

    def user_data(self) -> str:
        """First boot: write the settings and the deploy script, then run it."""
        env = "".join(f"{key}={value}\n" for key, value in self.airflow_env().items())
        deploy = (PROJECT_ROOT / "infra" / "deploy.sh").read_text()
        script = f"/usr/local/sbin/{self.project}-deploy"
        return (
            "#!/bin/bash\n"
            f"# First boot of {self.host}, written by infra/aws.py.\n"
            "set -euo pipefail\n"
            f"install -d -m 0755 /etc/{self.project}\n"
            f"cat > /etc/{self.project}/airflow.env <<'AIRFLOW_ENV'\n{env}AIRFLOW_ENV\n"
            f"cat > {script} <<'DEPLOY_SH'\n{deploy.rstrip()}\nDEPLOY_SH\n"
            f"chmod 0755 {script}\n"
            f"{script}\n"
        )

    def host_policy(self, db: dict | None, partition: str = "aws") -> dict:
        """The host's inline policy: this bucket, this database's secret, nothing else."""
        bucket = f"arn:{partition}:s3:::{self.bucket}"
        statements = [
            {
                "Sid": "ProjectBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation"],
                "Resource": bucket,
            },
            {
                "Sid": "ProjectObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": f"{bucket}/*",
            },
        ]
        if db:  # known once the instance exists: apply creates it first
            statements += [
                {
                    "Sid": "FindDatabase",
                    "Effect": "Allow",
                    "Action": "rds:DescribeDBInstances",
                    "Resource": db["DBInstanceArn"],
                },
                {
                    "Sid": "DatabaseSecret",
                    "Effect": "Allow",
                    "Action": "secretsmanager:GetSecretValue",
                    "Resource": db["MasterUserSecret"]["SecretArn"],
                },
            ]
            if self.iam_db_user:
                account = db["DBInstanceArn"].split(":")[4]
                user = f"arn:{partition}:rds-db:{self.region}:{account}:dbuser:{db['DbiResourceId']}"
                statements.append(
                    {
                        "Sid": "DatabaseIamLogin",
                        "Effect": "Allow",
                        "Action": "rds-db:connect",
                        "Resource": f"{user}/{self.iam_db_user}",
                    }
                )
        return {"Version": "2012-10-17", "Statement": statements}


def release_archive(root: Path = PROJECT_ROOT) -> bytes:
    """The project as .tar.gz for the host: no venv, local state, dotfiles, caches or builds."""

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if parts[0].startswith(".") or parts[0] in ("build", "dist"):
            return None
        if any(p == "__pycache__" or p.endswith((".egg-info", ".pyc")) for p in parts):
            return None
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(root.iterdir()):
            tar.add(path, arcname=path.name, filter=keep)
    return buffer.getvalue()


@dataclass
class Step:
    kind: str
    name: str
    find: Callable[[], object]  # the resource, or None; read-only calls only
    create: Callable[[], object]
    delete: Callable[[object], str] | None = None  # None: goes with another resource
    stale: Callable[[object], bool] = lambda found: False  # exists but must be rewritten


class Environment:
    """One environment's resources in the account: find (read-only), create, delete."""

    def __init__(
        self,
        plan: Plan,
        session: boto3.Session | None = None,
        *,
        wait: bool = True,
        delete_data: bool = False,
    ):
        self.plan, self.wait, self.delete_data = plan, wait, delete_data
        session = session or boto3.Session(region_name=plan.region)
        self.partition = session.get_partition_for_region(plan.region)
        self.s3, self.ec2, self.iam, self.rds, self.ssm = (
            session.client(name) for name in ("s3", "ec2", "iam", "rds", "ssm")
        )

    def steps(self) -> list[Step]:
        p = self.plan
        return [
            Step("s3 bucket", p.bucket, self.find_bucket, self.create_bucket, self.delete_bucket),
            Step(
                "security group",
                p.host,
                partial(self.find_group, p.host),
                self.create_host_group,
                self.delete_group,
            ),
            Step(
                "security group",
                p.db,
                partial(self.find_group, p.db),
                self.create_db_group,
                self.delete_group,
            ),
            Step("rds instance", p.db, self.find_db, self.create_db, self.delete_db),
            Step("iam role", p.host, self.find_role, self.create_role, self.delete_role),
            Step(
                "iam role policy",
                p.host,
                self.find_policy,
                self.put_policy,
                stale=lambda doc: doc != self.desired_policy(),
            ),
            Step("instance profile", p.host, self.find_profile, self.create_profile, self.delete_profile),
            Step("s3 object", f"s3://{p.bucket}/{RELEASE_KEY}", self.find_release, self.upload_release),
            Step("ec2 instance", p.host, self.find_instance, self.create_instance, self.delete_instance),
        ]

    def _get(self, call: Callable, *path: str | int, **kwargs):
        """call(**kwargs)[path...], or None when AWS says the resource does not exist."""
        try:
            result = call(**kwargs)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            raise
        for key in path:
            result = result[key]
        return result

    # S3 -----------------------------------------------------------------------------------
    def find_bucket(self) -> str | None:
        try:
            self.s3.head_bucket(Bucket=self.plan.bucket)
        except ClientError as exc:
            if _code(exc) in _NOT_FOUND:
                return None
            if _code(exc) in ("403", "AccessDenied"):
                raise SystemExit(
                    f"bucket {self.plan.bucket} belongs to another account: pass --bucket"
                ) from exc
            raise
        return self.plan.bucket

    def create_bucket(self) -> None:
        bucket, region = self.plan.bucket, self.plan.region
        where = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
        self.s3.create_bucket(Bucket=bucket, **where)
        self.s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        self.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        self.s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [
                    {
                        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"},
                        "BucketKeyEnabled": True,
                    }
                ]
            },
        )
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "expire-old-versions",
                        "Status": "Enabled",
                        "Filter": {"Prefix": ""},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    }
                ]
            },
        )
        arn = f"arn:{self.partition}:s3:::{bucket}"
        self.s3.put_bucket_policy(
            Bucket=bucket,
            Policy=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TlsOnly",
                            "Effect": "Deny",
                            "Principal": "*",
                            "Action": "s3:*",
                            "Resource": [arn, f"{arn}/*"],
                            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                        }
                    ],
                }
            ),
        )
        self.s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": self.plan.tags(bucket)[1:]})

    def delete_bucket(self, bucket: str) -> str:
        pages = self.s3.get_paginator("list_object_versions").paginate(Bucket=bucket)
        objects = [
            {"Key": v["Key"], "VersionId": v["VersionId"]}
            for page in pages
            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if objects and not self.delete_data:
            return "kept (holds data: --delete-data empties and deletes it)"
        for start in range(0, len(objects), 1000):
            self.s3.delete_objects(Bucket=bucket, Delete={"Objects": objects[start : start + 1000]})
        self.s3.delete_bucket(Bucket=bucket)
        return "deleted"

    def find_release(self) -> str | None:
        return self._get(self.s3.head_object, "ETag", Bucket=self.plan.bucket, Key=RELEASE_KEY)

    def upload_release(self) -> None:
        self.s3.put_object(Bucket=self.plan.bucket, Key=RELEASE_KEY, Body=release_archive())

    # Security groups ----------------------------------------------------------------------
    @cached_property
    def vpc(self) -> str:
        if self.plan.vpc_id:
            return self.plan.vpc_id
        if self.plan.subnet_id:
            return self.ec2.describe_subnets(SubnetIds=[self.plan.subnet_id])["Subnets"][0]["VpcId"]
        vpcs = self.ec2.describe_vpcs(Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise SystemExit(
                f"no default VPC in {self.plan.region}: pass --vpc-id, --subnet-id, --db-subnet-group"
            )
        return vpcs[0]["VpcId"]

    def find_group(self, name: str) -> str | None:
        groups = self.ec2.describe_security_groups(
            Filters=[{"Name": "group-name", "Values": [name]}, {"Name": "vpc-id", "Values": [self.vpc]}]
        )["SecurityGroups"]
        return groups[0]["GroupId"] if groups else None

    def _create_group(self, name: str, description: str) -> str:
        return self.ec2.create_security_group(
            GroupName=name,
            Description=description,
            VpcId=self.vpc,
            TagSpecifications=[{"ResourceType": "security-group", "Tags": self.plan.tags(name)}],
        )["GroupId"]

    def create_host_group(self) -> None:
        self._create_group(self.plan.host, "Airflow host: no inbound, use SSM Session Manager")

    def create_db_group(self) -> None:
        group = self._create_group(self.plan.db, "PostgreSQL from the Airflow host only")
        self.ec2.authorize_security_group_ingress(
            GroupId=group,
            IpPermissions=[
                {
                    "IpProtocol": "tcp",
                    "FromPort": 5432,
                    "ToPort": 5432,
                    "UserIdGroupPairs": [{"GroupId": self.find_group(self.plan.host)}],
                }
            ],
        )

    def delete_group(self, group: str) -> str:
        try:
            self.ec2.delete_security_group(GroupId=group)
        except ClientError as exc:
            if _code(exc) == "DependencyViolation":
                return "kept (still in use: run destroy again once the instances are gone)"
            raise
        return "deleted"

    # RDS ----------------------------------------------------------------------------------
    def find_db(self) -> dict | None:
        return self._get(self.rds.describe_db_instances, "DBInstances", 0, DBInstanceIdentifier=self.plan.db)

    def create_db(self) -> None:
        p = self.plan
        options = {"DBSubnetGroupName": p.db_subnet_group} if p.db_subnet_group else {}
        self.rds.create_db_instance(
            DBInstanceIdentifier=p.db,
            Engine="postgres",
            EngineVersion="16",
            DBInstanceClass=p.db_class,
            AllocatedStorage=p.db_storage_gb,
            MaxAllocatedStorage=max(100, p.db_storage_gb),
            StorageType="gp3",
            StorageEncrypted=True,
            DBName=p.database,
            MasterUsername=DB_ADMIN,
            ManageMasterUserPassword=True,
            VpcSecurityGroupIds=[self.find_group(p.db)],
            PubliclyAccessible=False,
            DeletionProtection=p.prod,
            BackupRetentionPeriod=7 if p.prod else 1,
            CopyTagsToSnapshot=True,
            AutoMinorVersionUpgrade=True,
            EnableIAMDatabaseAuthentication=bool(p.iam_db_user),
            Tags=self.plan.tags(p.db),
            **options,
        )

    def wait_for_db(self) -> None:
        self.rds.get_waiter("db_instance_available").wait(
            DBInstanceIdentifier=self.plan.db, WaiterConfig={"Delay": 30, "MaxAttempts": 80}
        )

    def delete_db(self, db: dict) -> str:
        name = self.plan.db
        if db["DBInstanceStatus"] == "deleting":
            return "deleting"
        if db.get("DeletionProtection"):
            self.rds.modify_db_instance(
                DBInstanceIdentifier=name, DeletionProtection=False, ApplyImmediately=True
            )
        if self.plan.prod:
            snapshot = f"{name}-final-" + datetime.now(UTC).strftime("%Y%m%d%H%M%S")
            self.rds.delete_db_instance(
                DBInstanceIdentifier=name, FinalDBSnapshotIdentifier=snapshot, DeleteAutomatedBackups=False
            )
        else:
            snapshot = None
            self.rds.delete_db_instance(
                DBInstanceIdentifier=name, SkipFinalSnapshot=True, DeleteAutomatedBackups=True
            )
        if self.wait:
            self.rds.get_waiter("db_instance_deleted").wait(
                DBInstanceIdentifier=name, WaiterConfig={"Delay": 30, "MaxAttempts": 80}
            )
        return f"deleted (final snapshot {snapshot})" if snapshot else "deleted"

    # IAM ----------------------------------------------------------------------------------
    def find_role(self) -> dict | None:
        return self._get(self.iam.get_role, "Role", RoleName=self.plan.host)

    def create_role(self) -> None:
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "ec2.amazonaws.com"}}
            ],
        }
        self.iam.create_role(
            RoleName=self.plan.host,
            AssumeRolePolicyDocument=json.dumps(trust),
            Description=f"Airflow host of {self.plan.prefix}",
            Tags=self.plan.tags(self.plan.host),
        )
        self.iam.attach_role_policy(
            RoleName=self.plan.host, PolicyArn=f"arn:{self.partition}:iam::aws:policy/{SSM_CORE}"
        )

    def delete_role(self, role: dict) -> str:
        name = self.plan.host
        for policy in self.iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
            self.iam.detach_role_policy(RoleName=name, PolicyArn=policy["PolicyArn"])
        for policy in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
            self.iam.delete_role_policy(RoleName=name, PolicyName=policy)
        self.iam.delete_role(RoleName=name)
        return "deleted"

    def desired_policy(self) -> dict:
        return self.plan.host_policy(self.find_db(), self.partition)

    def find_policy(self) -> dict | None:
        return self._get(
            self.iam.get_role_policy, "PolicyDocument", RoleName=self.plan.host, PolicyName=self.plan.host
        )

    def put_policy(self) -> None:
        self.iam.put_role_policy(
            RoleName=self.plan.host,
            PolicyName=self.plan.host,
            PolicyDocument=json.dumps(self.desired_policy()),
        )

    def find_profile(self) -> dict | None:
        return self._get(self.iam.get_instance_profile, "InstanceProfile", InstanceProfileName=self.plan.host)

    def create_profile(self) -> None:
        self.iam.create_instance_profile(
            InstanceProfileName=self.plan.host, Tags=self.plan.tags(self.plan.host)
        )
        self.iam.add_role_to_instance_profile(InstanceProfileName=self.plan.host, RoleName=self.plan.host)

    def delete_profile(self, profile: dict) -> str:
        for role in profile["Roles"]:
            self.iam.remove_role_from_instance_profile(
                InstanceProfileName=self.plan.host, RoleName=role["RoleName"]
            )
        self.iam.delete_instance_profile(InstanceProfileName=self.plan.host)
        return "deleted"

    # EC2 ----------------------------------------------------------------------------------
    def find_instance(self) -> dict | None:
        reservations = self.ec2.describe_instances(
            Filters=[
                {"Name": "tag:Name", "Values": [self.plan.host]},
                {"Name": "tag:Project", "Values": [self.plan.project]},
                {"Name": "tag:Env", "Values": [self.plan.env]},
                {"Name": "instance-state-name", "Values": ["pending", "running", "stopping", "stopped"]},
            ]
        )["Reservations"]
        instances = [i for r in reservations for i in r["Instances"]]
        return instances[0] if instances else None

    def create_instance(self) -> None:
        p = self.plan
        image = p.ami_id or self.ssm.get_parameter(Name=p.ami_parameter)["Parameter"]["Value"]
        root = self.ec2.describe_images(ImageIds=[image])["Images"][0]["RootDeviceName"]
        options = {"SubnetId": p.subnet_id} if p.subnet_id else {}
        request = dict(
            ImageId=image,
            InstanceType=p.instance_type,
            MinCount=1,
            MaxCount=1,
            IamInstanceProfile={"Name": p.host},
            SecurityGroupIds=[self.find_group(p.host)],
            UserData=p.user_data(),
            DisableApiTermination=p.prod,
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
            BlockDeviceMappings=[
                {
                    "DeviceName": root,
                    "Ebs": {
                        "VolumeSize": 30,
                        "VolumeType": "gp3",
                        "Encrypted": True,
                        "DeleteOnTermination": True,
                    },
                }
            ],
            TagSpecifications=[
                {"ResourceType": kind, "Tags": p.tags(p.host)} for kind in ("instance", "volume")
            ],
            **options,
        )
        for attempt in range(12):  # a new instance profile takes a few seconds to reach EC2
            try:
                self.ec2.run_instances(**request)
                return
            except ClientError as exc:
                if "iamInstanceProfile" not in str(exc) or attempt == 11:
                    raise
                time.sleep(5)

    def delete_instance(self, instance: dict) -> str:
        instance_id = instance["InstanceId"]
        if self.plan.prod:
            self.ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
        self.ec2.terminate_instances(InstanceIds=[instance_id])
        if self.wait:
            self.ec2.get_waiter("instance_terminated").wait(InstanceIds=[instance_id])
        return f"deleted ({instance_id})"


# Commands: each yields (status, kind, name) as it goes. -------------------------------------
def plan(environment: Environment) -> Iterator[tuple[str, str, str]]:
    for step in environment.steps():
        found = step.find()
        status = "create" if found is None else "update" if step.stale(found) else "exists"
        yield status, step.kind, step.name


def apply(environment: Environment) -> Iterator[tuple[str, str, str]]:
    for step in environment.steps():
        found = step.find()
        stale = found is not None and step.stale(found)
        if found is None or stale:
            step.create()
        yield ("created" if found is None else "updated" if stale else "exists"), step.kind, step.name
        if step.kind == "rds instance" and environment.wait:
            db = environment.find_db()
            if db and db["DBInstanceStatus"] != "available":
                yield (
                    "waiting",
                    step.kind,
                    f"{step.name}: {db['DBInstanceStatus']} (10 min or so; --no-wait skips)",
                )
                environment.wait_for_db()


def deploy(environment: Environment) -> Iterator[tuple[str, str, str]]:
    """Upload this checkout as the current release, then have the host install it."""
    environment.upload_release()
    yield "uploaded", "s3 object", f"s3://{environment.plan.bucket}/{RELEASE_KEY}"
    instance = environment.find_instance()
    if instance is None:
        raise SystemExit("no instance yet: run apply first (its first boot installs the release)")
    command = environment.ssm.send_command(
        InstanceIds=[instance["InstanceId"]],
        DocumentName="AWS-RunShellScript",
        Comment=f"deploy {environment.plan.prefix}",
        Parameters={"commands": [f"/usr/local/sbin/{environment.plan.project}-deploy"]},
    )["Command"]
    yield (
        "sent",
        "ssm command",
        (
            f"{command['CommandId']}; follow it with: aws ssm get-command-invocation"
            f" --region {environment.plan.region} --command-id {command['CommandId']}"
            f" --instance-id {instance['InstanceId']}"
        ),
    )


class Refused(Exception):
    """A command that would be unsafe with the arguments given."""


def destroy(environment: Environment, yes: bool = False) -> Iterator[tuple[str, str, str]]:
    if environment.plan.prod and not yes:
        raise Refused(
            "refusing to destroy prod without --yes (RDS then keeps a final snapshot, and the "
            "bucket is kept unless --delete-data)"
        )
    for step in reversed(environment.steps()):
        if step.delete is not None:
            found = step.find()
            yield ("absent" if found is None else step.delete(found)), step.kind, step.name


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.aws", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "deploy", "destroy"))
    parser.add_argument(
        "--env", required=True, help="environment name (prod, staging, ...): names derive from it"
    )
    parser.add_argument("--bucket", help="S3 bucket (default <project>-<env>-data; bucket names are global)")
    parser.add_argument("--instance-type", default="t3.large", help="EC2 type of the Airflow host")
    parser.add_argument("--db-class", default="db.t4g.micro", help="RDS instance class")
    parser.add_argument("--db-storage-gb", type=int, default=20, help="initial RDS storage (grows to 100)")
    parser.add_argument("--ami", help="AMI id of the host (default: looked up with --ami-parameter)")
    parser.add_argument("--ami-parameter", default=UBUNTU_AMI, help="SSM parameter naming the AMI")
    parser.add_argument("--vpc-id", help="VPC (default: the region's default VPC)")
    parser.add_argument("--subnet-id", help="subnet of the host (default: one of the VPC's default subnets)")
    parser.add_argument("--db-subnet-group", help="RDS subnet group (needed outside the default VPC)")
    parser.add_argument(
        "--iam-db-user", help="also let the host log in as this DB user with IAM (rds-db:connect)"
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for RDS / EC2 state changes")
    parser.add_argument("--yes", action="store_true", help="confirm destroy of prod")
    parser.add_argument(
        "--delete-data", action="store_true", help="destroy: also empty and delete the bucket"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None, session: boto3.Session | None = None) -> int:
    args = parse_args(argv)
    options = {
        key: getattr(args, key)
        for key in (
            "instance_type",
            "db_class",
            "db_storage_gb",
            "ami_parameter",
            "vpc_id",
            "subnet_id",
            "db_subnet_group",
            "iam_db_user",
        )
    }
    try:
        the_plan = Plan.from_settings(Settings.from_env(), args.env, args.bucket, ami_id=args.ami, **options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    environment = Environment(the_plan, session, wait=not args.no_wait, delete_data=args.delete_data)
    command = {"plan": plan, "apply": apply, "deploy": deploy, "destroy": partial(destroy, yes=args.yes)}
    print(f"{args.command} {the_plan.prefix} in {the_plan.region}", flush=True)
    try:
        for status, kind, name in command[args.command](environment):
            print(f"  {status:<8} {kind:<17} {name}", flush=True)
    except (Refused, NoCredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
