"""infra/compute.py and infra/broker.py: the host, session logs, restart on rotation, the broker."""

from __future__ import annotations

import base64
import json

import pytest
from infra_moto import ACCOUNT, infra_module, plan_for, run
from psycopg2.extensions import parse_dsn

pytest_plugins = ["infra_moto"]  # the fake account and the checkout to release


@pytest.fixture(scope="module")
def host(account, checkout):
    run(account, checkout, "apply", "--env", "host", "--no-wait")
    return plan_for("host")


def test_host_has_no_inbound_imdsv2_and_no_secret_in_user_data(account, host):
    ec2 = account.client("ec2")
    (reservation,) = ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": [host.host]}])[
        "Reservations"
    ]
    (instance,) = reservation["Instances"]
    assert instance["MetadataOptions"]["HttpTokens"] == "required"
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    assert groups[host.host]["IpPermissions"] == []
    (rule,) = groups[host.db]["IpPermissions"]
    assert [p["GroupId"] for p in rule["UserIdGroupPairs"]] == [groups[host.host]["GroupId"]] and rule[
        "IpRanges"
    ] == []

    data = ec2.describe_instance_attribute(InstanceId=instance["InstanceId"], Attribute="userData")
    script = base64.b64decode(data["UserData"]["Value"]).decode()
    secrets = account.client("secretsmanager")
    for name in ("login-airflow", "login-pipeline", "airflow-keys"):
        value = json.loads(secrets.get_secret_value(SecretId=host.secret(name))["SecretString"])
        assert not any(v in script for v in value.values() if len(v) > 20)
    assert f"S3_BUCKET_OWNER={ACCOUNT}\n" in script and "AIRFLOW__API__HOST=127.0.0.1\n" in script


def test_sessions_are_logged_to_the_log_bucket(account, host):
    document = account.client("ssm").get_document(Name=host.session_document)
    inputs = json.loads(document["Content"])["inputs"]
    assert (inputs["s3BucketName"], inputs["s3EncryptionEnabled"]) == (host.log_bucket, True)


def rotations_matched(account, rule: str, secret_arns: list[str]) -> list[str]:
    """Of the rotations of these secrets, those the rule matches: each is sent as Secrets
    Manager sends it (through CloudTrail) to a probe rule with the same pattern and a queue
    as its target (moto cannot run the real target, an SSM command)."""
    queue = account.client("sqs").create_queue(QueueName=f"{rule}-probe")["QueueUrl"]
    arn = account.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    events = account.client("events")
    pattern = events.describe_rule(Name=rule)["EventPattern"]
    targets = events.list_targets_by_rule(Rule=rule)["Targets"]
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in targets])
    events.put_rule(Name=f"{rule}-probe", EventPattern=pattern)
    events.put_targets(Rule=f"{rule}-probe", Targets=[{"Id": "probe", "Arn": arn["Attributes"]["QueueArn"]}])
    try:
        for secret_arn in secret_arns:
            detail = {"eventName": "RotationSucceeded", "additionalEventData": {"SecretId": secret_arn}}
            events.put_events(
                Entries=[
                    {
                        "Source": "aws.secretsmanager",
                        "DetailType": "AWS Service Event via CloudTrail",
                        "Detail": json.dumps({"eventSource": "secretsmanager.amazonaws.com", **detail}),
                    }
                ]
            )
        messages = account.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)
    finally:
        events.remove_targets(Rule=f"{rule}-probe", Ids=["probe"])
        events.delete_rule(Name=f"{rule}-probe")
        events.put_targets(Rule=rule, Targets=targets)
    return [
        json.loads(m["Body"])["detail"]["additionalEventData"]["SecretId"]
        for m in messages.get("Messages", [])
    ]


def test_a_rotated_secret_restarts_airflow_with_the_new_value(account, host):
    """Secrets rotate: the rule matches the rotation of the host's secrets only, and its target
    restarts the services, which read the current value when they start (infra/db_env.py)."""
    events, secrets = account.client("events"), account.client("secretsmanager")
    pipeline = secrets.describe_secret(SecretId=host.secret("login-pipeline"))["ARN"]
    analyst = secrets.describe_secret(SecretId=host.secret("login-analyst"))["ARN"]
    master = account.client("rds").describe_db_instances(DBInstanceIdentifier=host.db)["DBInstances"][0]
    others = [analyst, master["MasterUserSecret"]["SecretArn"], pipeline.replace("host/", "hostx/")]
    assert rotations_matched(account, host.restarter, [pipeline, *others]) == [pipeline]
    (target,) = events.list_targets_by_rule(Rule=host.restarter)["Targets"]
    assert json.loads(target["Input"]) == {"commands": ["systemctl try-restart 'airflow-*.service'"]}
    assert target["RunCommandParameters"]["RunCommandTargets"] == [{"Key": "tag:Name", "Values": [host.host]}]

    # moto's rotation (no Lambda: it stages a new version as AWSCURRENT); the restarted
    # service then reads the value the rotation left.
    before = json.loads(secrets.get_secret_value(SecretId=pipeline)["SecretString"])
    secrets.rotate_secret(SecretId=pipeline, RotateImmediately=False)
    rotated = {**before, "password": "rotated-password"}
    secrets.put_secret_value(SecretId=pipeline, SecretString=json.dumps(rotated))
    env = infra_module("db_env").secrets_env(account, host.airflow_env())
    assert parse_dsn(env["WAREHOUSE_URL"])["password"] == "rotated-password"


@pytest.mark.skipif("{{ cookiecutter.executor }}" != "celery", reason="the broker exists with executor celery")
def test_celery_broker_is_tls_auth_and_reachable_from_the_host_only(account, host):
    group = account.client("elasticache").describe_replication_groups(ReplicationGroupId=host.broker)[
        "ReplicationGroups"
    ][0]
    assert group["TransitEncryptionEnabled"] and group["AtRestEncryptionEnabled"]
    ec2 = account.client("ec2")
    groups = {g["GroupName"]: g for g in ec2.describe_security_groups()["SecurityGroups"]}
    (rule,) = groups[host.broker]["IpPermissions"]
    assert (rule["FromPort"], [p["GroupId"] for p in rule["UserIdGroupPairs"]]) == (
        6379,
        [groups[host.host]["GroupId"]],
    )
