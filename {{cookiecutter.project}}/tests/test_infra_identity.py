"""infra/identity.py: the host's policy names this project's resources in this account only."""

from __future__ import annotations

import json

from infra_moto import ACCOUNT, infra_module, plan_for, run

pytest_plugins = ["infra_moto"]  # the fake account and the checkout to release


def statements(policy: dict) -> dict[str, dict]:
    return {s["Sid"]: s for s in policy["Statement"]}


def test_host_policy_is_least_privilege(account, checkout):
    p = plan_for("iam")
    run(account, checkout, "apply", "--env", "iam", "--no-wait")
    iam = account.client("iam")
    policy = iam.get_role_policy(RoleName=p.host, PolicyName=p.host)["PolicyDocument"]
    by_sid = statements(policy)

    assert iam.list_attached_role_policies(RoleName=p.host)["AttachedPolicies"] == []  # no SSM core policy
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert not any("*" in a for a in actions)
    assert not {"ssm:GetParameter", "ssm:GetParameters", "s3:DeleteObject"} & actions
    # Releases are read-only to the host, and every S3 statement is bound to this account.
    assert by_sid["ReadReleases"]["Action"] == ["s3:GetObject", "s3:GetObjectVersion"]
    writable = {s["Resource"] for s in policy["Statement"] if "s3:PutObject" in s["Action"]}
    assert writable == {f"arn:aws:s3:::{p.bucket}/artifacts/*", f"arn:aws:s3:::{p.log_bucket}/ssm-sessions/*"}
    for statement in policy["Statement"]:
        if statement["Action"][0].startswith("s3:"):
            assert statement["Condition"] == {"StringEquals": {"s3:ResourceAccount": ACCOUNT}}
    # Its own secrets only: never the master user's, nor the analysts' login.
    secrets = by_sid["HostSecrets"]["Resource"]
    assert {s.rsplit(":", 1)[1] for s in secrets} >= {
        f"{p.prefix}/login-airflow-??????",
        f"{p.prefix}/login-pipeline-??????",
    }
    assert not any("analyst" in s or "rds!" in s for s in secrets)


def test_apply_removes_policies_added_to_the_host_role(account, checkout):
    """An upgrade from AmazonSSMManagedInstanceCore, or a policy added by hand, is drift."""
    p = plan_for("iamdrift")
    run(account, checkout, "apply", "--env", "iamdrift", "--no-wait")
    iam = account.client("iam")
    broad = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:GetParameter", "Resource": "*"}],
    }
    managed = iam.create_policy(PolicyName="broad", PolicyDocument=json.dumps(broad))
    iam.attach_role_policy(RoleName=p.host, PolicyArn=managed["Policy"]["Arn"])
    iam.put_role_policy(RoleName=p.host, PolicyName=p.host, PolicyDocument=json.dumps(broad))

    found = run(account, checkout, "apply", "--env", "iamdrift", "--no-wait")
    assert "fixed" in found
    assert iam.list_attached_role_policies(RoleName=p.host)["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName=p.host, PolicyName=p.host)["PolicyDocument"]
    assert policy == infra_module("identity").host_policy(p)
