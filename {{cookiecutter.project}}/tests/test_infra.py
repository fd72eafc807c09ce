"""infra/: provisioning against moto (fake credentials: nothing here can reach AWS), the
host-side scripts, and the systemd units."""

from __future__ import annotations

import base64
import configparser
import contextlib
import dataclasses
import importlib
import io
import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from psycopg2.extensions import parse_dsn

from {{ cookiecutter.project }}.config import Settings

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
PROJECT = "{{ cookiecutter.project }}"
REGION = "eu-west-1"
# moto refuses parameter names under /aws/: this one stands in for Ubuntu's public one.
AMI_PARAMETER = "/test/ubuntu/ami-id"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")


@pytest.fixture(scope="module")
def infra():
    """infra.aws: infra/ is a folder of the project root (`python -m infra.aws`), not installed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(ROOT))
        yield importlib.import_module("infra.aws")


@pytest.fixture
def db_env(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module("infra.db_env")


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """A fake AWS account for this module; real credentials, profiles and endpoints are out of reach.

    One for the module: moto loads the AWS managed policies (AmazonSSMManagedInstanceCore)
    into every partition, a second or two each time. Tests keep apart by environment name.
    """
    with pytest.MonkeyPatch.context() as patch:
        for name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_ENDPOINT_URL",
        ):
            patch.delenv(name, raising=False)
        empty = tmp_path_factory.mktemp("aws")
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
        patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        patch.setenv("AWS_REGION", REGION)
        patch.setenv("AWS_DEFAULT_REGION", REGION)
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # one image will do
        # moto ignores the condition of the bucket policy's TLS-only Deny and so would refuse
        # every object request: that check is left to AWS (the policy is asserted below).
        patch.setattr(FakeBucket, "get_permission", lambda *args: PermissionResult.NEUTRAL)
        with mock_aws(config={"iam": {"load_aws_managed_policies": True}}):
            session = boto3.Session(region_name=REGION)
            image = session.client("ec2").register_image(Name="ubuntu-24.04", RootDeviceName="/dev/sda1")
            session.client("ssm").put_parameter(Name=AMI_PARAMETER, Value=image["ImageId"], Type="String")
            yield session


def run(infra, session, *args: str) -> list[str]:
    """`python -m infra.aws ARGS`: the status word of each resource line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert infra.main([*args, "--ami-parameter", AMI_PARAMETER], session) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].endswith(f" in {REGION}")
    return [line.split()[0] for line in lines[1:]]


def plan_for(infra, env: str):
    return infra.Plan.from_settings(Settings.from_env(), env)


def instances(session, p) -> list[dict]:
    reservations = session.client("ec2").describe_instances(
        Filters=[
            {"Name": "tag:Name", "Values": [p.host]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    return [i for r in reservations for i in r["Instances"]]


@pytest.fixture(scope="module")
def prod(account, infra):
    """The statuses of the first `apply --env prod` in the account."""
    return run(infra, account, "apply", "--env", "prod")


def test_plan_of_a_new_environment_lists_creates_and_changes_nothing(account, infra):
    calls = []

    def record(model, **kwargs):
        calls.append(model.name)

    account.events.register("before-call", record)
    try:
        assert run(infra, account, "plan", "--env", "fresh") == ["create"] * 9
    finally:
        account.events.unregister("before-call", record)

    assert calls and all(call.startswith(("Describe", "Get", "Head", "List")) for call in calls), calls
    p = plan_for(infra, "fresh")
    assert p.bucket not in {b["Name"] for b in account.client("s3").list_buckets()["Buckets"]}
    assert p.db not in {
        d["DBInstanceIdentifier"] for d in account.client("rds").describe_db_instances()["DBInstances"]
    }
    assert p.host not in {r["RoleName"] for r in account.client("iam").list_roles()["Roles"]}
    assert instances(account, p) == []


def test_apply_creates_a_locked_down_environment(account, infra, prod):
    assert prod == ["created"] * 9
    p = plan_for(infra, "prod")
    s3, ec2, iam, rds = (account.client(n) for n in ("s3", "ec2", "iam", "rds"))

    assert s3.get_bucket_versioning(Bucket=p.bucket)["Status"] == "Enabled"
    block = s3.get_public_access_block(Bucket=p.bucket)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    rule = s3.get_bucket_encryption(Bucket=p.bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert "aws:SecureTransport" in s3.get_bucket_policy(Bucket=p.bucket)["Policy"]
    with tarfile.open(
        fileobj=s3.get_object(Bucket=p.bucket, Key=infra.RELEASE_KEY)["Body"], mode="r|gz"
    ) as tar:
        assert "infra/deploy.sh" in {member.name for member in tar}

    profile = iam.get_instance_profile(InstanceProfileName=p.host)["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == [p.host]
    attached = iam.list_attached_role_policies(RoleName=p.host)["AttachedPolicies"]
    assert [a["PolicyName"] for a in attached] == ["AmazonSSMManagedInstanceCore"]

    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    host_group, db_group = groups[p.host], groups[p.db]
    assert host_group["IpPermissions"] == []  # no inbound at all: SSM Session Manager
    (rule,) = db_group["IpPermissions"]
    assert (rule["FromPort"], rule["ToPort"], rule["IpRanges"]) == (5432, 5432, [])
    assert [pair["GroupId"] for pair in rule["UserIdGroupPairs"]] == [host_group["GroupId"]]

    (db,) = rds.describe_db_instances(DBInstanceIdentifier=p.db)["DBInstances"]
    assert db["Engine"] == "postgres" and db["EngineVersion"].startswith("16")
    assert db["StorageEncrypted"] and db["DeletionProtection"] and not db["PubliclyAccessible"]
    assert db["MasterUserSecret"]["SecretArn"]
    assert [g["VpcSecurityGroupId"] for g in db["VpcSecurityGroups"]] == [db_group["GroupId"]]

    (instance,) = instances(account, p)
    assert instance["IamInstanceProfile"]["Arn"].endswith(f"instance-profile/{p.host}")
    assert [g["GroupId"] for g in instance["SecurityGroups"]] == [host_group["GroupId"]]
    user_data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    script = base64.b64decode(user_data["UserData"]["Value"]).decode()
    assert f"DB_INSTANCE_ID={p.db}\n" in script and f"/usr/local/sbin/{PROJECT}-deploy\n" in script
    secret = account.client("secretsmanager").get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])
    assert json.loads(secret["SecretString"])["password"] not in script


def test_second_apply_creates_nothing(account, infra, prod):
    assert run(infra, account, "apply", "--env", "prod") == ["exists"] * 9
    assert run(infra, account, "plan", "--env", "prod") == ["exists"] * 9
    assert len(instances(account, plan_for(infra, "prod"))) == 1


def test_host_policy_names_only_the_project_bucket_and_database(account, infra, prod):
    p = plan_for(infra, "prod")
    policy = account.client("iam").get_role_policy(RoleName=p.host, PolicyName=p.host)["PolicyDocument"]
    db = account.client("rds").describe_db_instances(DBInstanceIdentifier=p.db)["DBInstances"][0]

    by_service: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert not any("*" in action for action in actions)
        for action in actions:
            by_service.setdefault(action.split(":")[0], set()).add(statement["Resource"])
    assert by_service == {
        "s3": {f"arn:aws:s3:::{p.bucket}", f"arn:aws:s3:::{p.bucket}/*"},
        "rds": {db["DBInstanceArn"]},
        "secretsmanager": {db["MasterUserSecret"]["SecretArn"]},
    }


def test_iam_db_user_adds_rds_db_connect_for_that_user_only(account, infra):
    run(
        infra,
        account,
        "apply",
        "--env",
        "iamauth",
        "--iam-db-user",
        "pipeline",
        "--instance-type",
        "t3.small",
    )
    p = plan_for(infra, "iamauth")
    db = account.client("rds").describe_db_instances(DBInstanceIdentifier=p.db)["DBInstances"][0]
    policy = account.client("iam").get_role_policy(RoleName=p.host, PolicyName=p.host)["PolicyDocument"]

    (connect,) = [s for s in policy["Statement"] if s["Action"] == "rds-db:connect"]
    assert connect["Resource"].endswith(f":dbuser:{db['DbiResourceId']}/pipeline")
    assert db["IAMDatabaseAuthenticationEnabled"] and not db["DeletionProtection"]
    assert instances(account, p)[0]["InstanceType"] == "t3.small"


def test_bucket_in_us_east_1_is_created_without_a_location_constraint(account, infra):
    plan = dataclasses.replace(plan_for(infra, "useast"), region="us-east-1")
    infra.Environment(plan, boto3.Session(region_name="us-east-1")).create_bucket()

    assert account.client("s3").get_bucket_location(Bucket=plan.bucket)["LocationConstraint"] is None


def test_destroy_refuses_prod_without_yes(account, infra, prod, capsys):
    assert infra.main(["destroy", "--env", "prod"], account) == 2
    assert "--yes" in capsys.readouterr().err
    assert run(infra, account, "plan", "--env", "prod") == ["exists"] * 9


def test_destroy_prod_with_yes_keeps_a_final_snapshot_and_the_data(account, infra, prod):
    p = plan_for(infra, "prod")
    # Deletion protection (RDS) and termination protection (EC2) are lifted first.
    assert run(infra, account, "destroy", "--env", "prod", "--yes") == ["deleted"] * 6 + ["kept"]
    snapshots = account.client("rds").describe_db_snapshots(DBInstanceIdentifier=p.db, SnapshotType="manual")[
        "DBSnapshots"
    ]
    assert [s["DBSnapshotIdentifier"].startswith(f"{p.db}-final-") for s in snapshots] == [True]
    assert account.client("s3").list_object_versions(Bucket=p.bucket)["Versions"]

    # Leave prod as the other tests expect it, whatever their order. moto names the retained
    # automated snapshot after the instance and the minute, which a new instance would reuse.
    rds = account.client("rds")
    for snapshot in rds.describe_db_snapshots(DBInstanceIdentifier=p.db, SnapshotType="automated")[
        "DBSnapshots"
    ]:
        rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot["DBSnapshotIdentifier"])
    assert run(infra, account, "apply", "--env", "prod") == ["exists"] + ["created"] * 6 + [
        "exists",
        "created",
    ]


def test_destroy_with_delete_data_leaves_nothing(account, infra):
    run(infra, account, "apply", "--env", "test")

    assert run(infra, account, "destroy", "--env", "test", "--delete-data") == ["deleted"] * 7
    assert run(infra, account, "plan", "--env", "test") == ["create"] * 9
    assert run(infra, account, "destroy", "--env", "test") == ["absent"] * 7


def test_db_env_builds_the_urls_from_the_rds_secret(account, db_env, monkeypatch):
    rds = account.client("rds")
    db = rds.create_db_instance(
        DBInstanceIdentifier="warehouse-db",
        Engine="postgres",
        DBInstanceClass="db.t4g.micro",
        AllocatedStorage=20,
        MasterUsername="dbadmin",
        ManageMasterUserPassword=True,
    )["DBInstance"]
    secret = account.client("secretsmanager").get_secret_value(SecretId=db["MasterUserSecret"]["SecretArn"])
    credentials = json.loads(secret["SecretString"])  # moto's password has @ and !: quoting matters

    urls = db_env.database_urls(rds, account.client("secretsmanager"), "warehouse-db", PROJECT)
    dsn = parse_dsn(urls["WAREHOUSE_URL"])
    assert (dsn["user"], dsn["password"], dsn["dbname"]) == (
        credentials["username"],
        credentials["password"],
        PROJECT,
    )
    assert dsn["sslmode"] == "require"
    assert urls["AIRFLOW_CONN_WAREHOUSE"] == urls["WAREHOUSE_URL"]
    assert urls["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")

    # main: the URLs join the environment (a value already set wins), then exec the command.
    started = {}
    monkeypatch.setattr(
        db_env.os, "execvpe", lambda file, args, env: started.update(file=file, args=args, env=env)
    )
    monkeypatch.setenv("DB_INSTANCE_ID", "warehouse-db")
    monkeypatch.setenv("DB_NAME", PROJECT)
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://elsewhere/airflow")
    db_env.main(["--", "airflow", "scheduler"])
    assert started["args"] == ["airflow", "scheduler"]
    assert started["env"]["WAREHOUSE_URL"] == urls["WAREHOUSE_URL"]
    assert started["env"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "postgresql+psycopg2://elsewhere/airflow"
    assert started["env"]["PATH"].split(":")[0] == str(Path(sys.executable).parent)


def test_env_example_shows_what_the_host_gets(infra):
    example = {}
    for line in (INFRA / "airflow.env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            example[key] = value
    # Default region and bucket: the values the example shows for --env prod.
    env = infra.Plan.from_settings(Settings.from_env({}), "prod").airflow_env()
    assert example.keys() == env.keys()
    if infra._slug(PROJECT) == PROJECT.replace("_", "-"):  # the example spells names the simple way
        assert example == env
    assert not any(word in key for key in example for word in ("PASSWORD", "SECRET", "CONN"))


def test_systemd_units_start_each_airflow_3_component(infra):
    for component in COMPONENTS:
        unit = configparser.ConfigParser(interpolation=None, strict=False)
        unit.optionxform = str
        unit.read(INFRA / "systemd" / f"airflow-{component}.service")
        service = unit["Service"]
        assert (service["User"], service["Restart"]) == ("airflow", "always")
        assert service["EnvironmentFile"] == f"/etc/{PROJECT}/airflow.env"
        assert f" -m infra.db_env -- airflow {component}" in service["ExecStart"]
        assert unit["Install"]["WantedBy"] == "multi-user.target"
    workers = [{% if cookiecutter.executor == "celery" %}"airflow-celery-worker@.service"{% endif %}]
    assert sorted(p.name for p in (INFRA / "systemd").iterdir()) == sorted(
        [f"airflow-{c}.service" for c in COMPONENTS] + workers
    )


def test_host_scripts_are_valid_bash_and_user_data_fits(infra, tmp_path):
    user_data = tmp_path / "user-data.sh"
    user_data.write_text(plan_for(infra, "prod").user_data())
    assert len(user_data.read_bytes()) < 16 * 1024  # EC2's limit
    for script in (user_data, INFRA / "deploy.sh", INFRA / "run.sh"):
        subprocess.run(["bash", "-n", str(script)], check=True)


def test_release_archive_leaves_out_local_state(infra, tmp_path):
    for name in (
        ".venv/bin/python",
        ".local/pgdata/x",
        ".git/HEAD",
        "x.egg-info/PKG-INFO",
        "src/pkg/__pycache__/a.pyc",
        "src/pkg/a.py",
        "dags/d.py",
        "infra/deploy.sh",
    ):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x")
    archive = tmp_path / "release.tar.gz"
    archive.write_bytes(infra.release_archive(tmp_path))

    with tarfile.open(archive) as tar:
        files = {m.name for m in tar.getmembers() if m.isfile()}
    assert files == {"src/pkg/a.py", "dags/d.py", "infra/deploy.sh"}


def test_import_makes_no_network_calls(infra, db_env, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network call at import")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    importlib.reload(infra)
    importlib.reload(db_env)
