"""Provision the AWS side with boto3: S3, security groups, Secrets Manager, RDS PostgreSQL,
ElastiCache (the Celery broker, with executor celery), IAM, EC2 and an EventBridge rule.

Run from the project root, with the project's venv and your AWS credentials:

    python -m infra.aws plan    --env prod   # what apply would do (read-only calls only)
    python -m infra.aws apply   --env prod   # create what is missing, fix security drift
    python -m infra.aws deploy  --env prod   # release HEAD; the host verifies and installs it
    python -m infra.aws destroy --env test   # delete it all, after a final snapshot

Each resource lives in the module named for it (storage, network, credentials, database,
broker, identity, compute); names and tags come from plan.py. A resource found by name is
touched only if it carries this project's Project and Env tags (and, for a bucket, this
account owns it): otherwise the command refuses, naming it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import boto3
from botocore.exceptions import NoCredentialsError

from {{ cookiecutter.project }}.config import Settings

from .broker import Broker
from .compute import Compute
from .credentials import Credentials
from .database import Database
from .identity import Identity
from .network import Network
from .plan import PROJECT, PROJECT_ROOT, UBUNTU_AMI, Plan, Refused
from .release import build
from .steps import Step
from .storage import Storage

Line = tuple[str, str, str]  # (status, kind, name) printed per resource


class Environment:
    """One environment's resources in the account, in the order apply creates them."""

    def __init__(self, plan: Plan, session: boto3.Session, *, wait: bool = True, source: Path = PROJECT_ROOT):
        self.plan, self.wait = plan, wait
        self.ssm = session.client("ssm")
        self.storage = Storage(plan, session, source)
        self.network = Network(plan, session)
        self.credentials = Credentials(plan, session)
        self.database = Database(plan, session, self.network.group_id, wait)
        self.broker = Broker(plan, session, self.network.group_id, self.credentials)
        self.identity = Identity(plan, session)
        self.compute = Compute(plan, session, self.network.group_id, wait)

    def steps(self) -> list[Step]:
        parts = (
            self.storage,
            self.network,
            self.credentials,
            self.database,
            self.broker,
            self.identity,
            self.compute,
        )
        return [step for part in parts for step in part.steps()]

    def find(self, step: Step):
        """The resource if it exists, after checking that it is this environment's."""
        found = step.find()
        if found is not None and step.tags is not None and not self.plan.owns(step.tags(found)):
            raise Refused(
                f"{step.kind} {step.name} exists without the tags Project={self.plan.project} "
                f"Env={self.plan.env}: it is not this environment's, so it is left alone"
            )
        return found


# Commands: each yields (status, kind, name) as it goes. -------------------------------------
def plan(environment: Environment) -> Iterator[Line]:
    for step in environment.steps():
        found = environment.find(step)
        drift = [] if found is None else step.drift(found)
        status = "create" if found is None else "drift" if drift else "exists"
        yield status, step.kind, _detail(step.name, drift)


def apply(environment: Environment) -> Iterator[Line]:
    for step in environment.steps():
        found = environment.find(step)
        if found is None:
            step.create()
            yield "created", step.kind, step.name
            if step.wait and environment.wait:
                yield "waiting", step.kind, f"{step.name} (minutes; --no-wait skips)"
                step.wait()
            continue
        drift = step.drift(found)
        if drift and step.fix:
            step.fix(found)
            left = step.drift(environment.find(step))
            yield ("drift" if left else "fixed"), step.kind, _detail(step.name, left or drift)
        else:
            yield ("drift" if drift else "exists"), step.kind, _detail(step.name, drift)


def _detail(name: str, drift: list[str]) -> str:
    return f"{name} ({'; '.join(drift)})" if drift else name


def deploy(environment: Environment) -> Iterator[Line]:
    """Release HEAD: upload it and its manifest, then have the host verify and install it."""
    if environment.find(environment.storage.data_step()) is None:
        raise Refused("no data bucket yet: run apply first")
    instance = environment.find(environment.compute.instance_step())
    if instance is None:
        raise Refused("no instance yet: run apply first (its first boot installs the release)")
    manifest = environment.storage.upload(build(environment.storage.source))
    yield (
        "uploaded",
        "s3 object",
        f"s3://{environment.plan.bucket}/{manifest['key']} sha256 {manifest['sha256']}",
    )
    command = environment.ssm.send_command(
        InstanceIds=[instance["InstanceId"]],
        DocumentName="AWS-RunShellScript",
        Comment=f"deploy {environment.plan.prefix} {manifest['commit'][:12]}",
        Parameters={"commands": [f"/usr/local/sbin/{environment.plan.project}-deploy"]},
    )["Command"]
    yield (
        "sent",
        "ssm command",
        f"{command['CommandId']}; follow it with: aws ssm get-command-invocation --region "
        f"{environment.plan.region} --command-id {command['CommandId']} --instance-id {instance['InstanceId']}",
    )


def destroy(
    environment: Environment, confirm: Callable[[list[str]], bool], delete_data: bool = False
) -> Iterator[Line]:
    """Delete the environment; checks everything first, so a refusal deletes nothing."""
    doomed = [(step, environment.find(step)) for step in reversed(environment.steps()) if step.delete]
    doomed = [(step, found) for step, found in doomed if found is not None]
    protected = [f"{step.kind} {step.name}" for step, found in doomed if step.protected(found)]
    if protected:
        raise Refused(
            f"protect is on for {', '.join(protected)}: run `apply --env {environment.plan.env} --no-protect` "
            "first, which lifts deletion and termination protection"
        )
    keep = {
        id(step)
        for step, found in doomed
        if step.kind == "s3 bucket" and step.holds_data(found) and not delete_data
    }
    data = [
        f"{step.kind} {step.name}"
        for step, found in doomed
        if id(step) not in keep and step.holds_data(found)
    ]
    if data and not confirm(data):
        raise Refused(
            f"{', '.join(data)} hold data: type the environment name when asked, or pass --yes --allow-data-loss "
            "(the database keeps a final snapshot)"
        )
    for step, found in doomed:
        if id(step) in keep:
            yield "kept", step.kind, f"{step.name} (holds data: --delete-data empties and deletes it)"
        else:
            status, _, detail = step.delete(found).partition(" ")
            yield status, step.kind, f"{step.name} {detail}".rstrip()


def confirmation(env: str, yes: bool, allow_data_loss: bool) -> Callable[[list[str]], bool]:
    """--yes --allow-data-loss, or the environment's name typed at the terminal."""

    def confirm(data: list[str]) -> bool:
        if yes or not sys.stdin.isatty():
            return yes and allow_data_loss
        print(f"destroy deletes {', '.join(data)}; the database keeps a final snapshot.", file=sys.stderr)
        return input(f"Type {env!r} to go on: ").strip() == env

    return confirm


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m infra.aws", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("plan", "apply", "deploy", "destroy"))
    parser.add_argument(
        "--env", required=True, help="environment name (prod, staging, ...): names derive from it"
    )
    parser.add_argument("--bucket", help="data bucket (default <project>-<env>-<account>-data)")
    parser.add_argument(
        "--protect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="deletion and termination protection, 7-day backups (default on; --no-protect before destroy)",
    )
    parser.add_argument("--instance-type", default="t3.large", help="EC2 type of the Airflow host")
    parser.add_argument("--db-class", default="db.t4g.micro", help="RDS instance class")
    parser.add_argument("--db-storage-gb", type=int, default=20, help="initial RDS storage (grows to 100)")
    parser.add_argument("--ami", help="AMI id of the host (default: looked up with --ami-parameter)")
    parser.add_argument("--ami-parameter", default=UBUNTU_AMI, help="SSM parameter naming the AMI")
    parser.add_argument("--vpc-id", help="VPC (default: the region's default VPC)")
    parser.add_argument("--subnet-id", help="subnet of the host (default: one of the VPC's default subnets)")
    parser.add_argument("--db-subnet-group", help="RDS subnet group (needed outside the default VPC)")
    parser.add_argument(
        "--cache-node-type", default="cache.t4g.micro", help="executor celery: broker node type"
    )
    parser.add_argument(
        "--cache-subnet-group", help="executor celery: ElastiCache subnet group (outside the default VPC)"
    )
    parser.add_argument("--no-wait", action="store_true", help="do not wait for RDS / EC2 state changes")
    parser.add_argument("--yes", action="store_true", help="destroy: never prompt")
    parser.add_argument(
        "--allow-data-loss", action="store_true", help="destroy: with --yes, delete the database"
    )
    parser.add_argument(
        "--delete-data", action="store_true", help="destroy: also empty and delete the buckets"
    )
    return parser.parse_args(argv)


OPTIONS = (
    "protect",
    "instance_type",
    "db_class",
    "db_storage_gb",
    "ami_parameter",
    "vpc_id",
    "subnet_id",
    "db_subnet_group",
    "cache_node_type",
    "cache_subnet_group",
)


def main(
    argv: list[str] | None = None, session: boto3.Session | None = None, source: Path = PROJECT_ROOT
) -> int:
    args = parse_args(argv)
    settings = Settings.from_env()
    session = session or boto3.Session(region_name=settings.aws_region)
    try:
        account = session.client("sts").get_caller_identity()["Account"]
        options = {key: getattr(args, key) for key in OPTIONS}
        the_plan = Plan(
            PROJECT, args.env, settings.aws_region, account, args.bucket, ami_id=args.ami, **options
        )
    except (ValueError, NoCredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    environment = Environment(the_plan, session, wait=not args.no_wait, source=source)
    command = {
        "plan": plan,
        "apply": apply,
        "deploy": deploy,
        "destroy": partial(
            destroy,
            confirm=confirmation(args.env, args.yes, args.allow_data_loss),
            delete_data=args.delete_data,
        ),
    }
    print(f"{args.command} {the_plan.prefix} in {the_plan.region}, account {account}", flush=True)
    try:
        for status, kind, name in command[args.command](environment):
            print(f"  {status:<8} {kind:<18} {name}", flush=True)
    except (Refused, NoCredentialsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
