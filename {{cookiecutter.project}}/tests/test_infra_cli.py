"""infra/aws.py: plan, apply and destroy as commands, against moto."""

from __future__ import annotations

import pytest
from infra_moto import ACCOUNT, infra_module, plan_for, run, statuses

N = {"local": 17, "celery": 20}["{{ cookiecutter.executor }}"]  # resources of one environment

pytest_plugins = ["infra_moto"]  # the fake account and the checkout to release


@pytest.fixture(scope="module")
def prod(account, checkout):
    """The statuses of the first `apply --env prod` in the account."""
    return run(account, checkout, "apply", "--env", "prod")


def test_plan_of_a_new_environment_lists_creates_and_changes_nothing(account, checkout):
    calls = []
    account.events.register("before-call", lambda model, **kwargs: calls.append(model.name))
    try:
        found = statuses(account, checkout, "plan", "--env", "fresh")
    finally:
        account.events.unregister("before-call")
    assert set(found.values()) == {"create"} and len(found) == N
    assert calls and all(call.startswith(("Describe", "Get", "Head", "List")) for call in calls), calls
    # The bucket names carry the account ID: plan shows them.
    assert ("s3 bucket", f"{plan_for('fresh').prefix}-{ACCOUNT}-data") in found


def test_apply_creates_everything_and_a_second_apply_nothing(account, checkout, prod):
    assert prod.count("created") == N and set(prod) <= {"created", "waiting"}
    # moto ignores DisableApiTermination at launch: the second apply sets it (drift, fixed).
    again = statuses(account, checkout, "apply", "--env", "prod")
    assert again.pop(("ec2 instance", plan_for("prod").host)) == "fixed"
    assert set(again.values()) == {"exists"}
    assert set(statuses(account, checkout, "plan", "--env", "prod").values()) == {"exists"}


def test_destroy_without_confirmation_deletes_nothing(account, checkout, prod, capsys):
    """Acceptance: `destroy --env production` without confirmation deletes nothing."""
    run(account, checkout, "apply", "--env", "production", "--no-protect")
    before = statuses(account, checkout, "plan", "--env", "production")

    for flags in ([], ["--yes"], ["--allow-data-loss"]):  # --yes alone is no confirmation
        run(account, checkout, "destroy", "--env", "production", *flags, code=2)
        assert "hold data" in capsys.readouterr().err
    assert statuses(account, checkout, "plan", "--env", "production") == before


def test_destroy_confirmed_keeps_a_final_snapshot(account, checkout):
    """Acceptance: with confirmation, a final snapshot exists afterwards."""
    p = plan_for("production")
    run(account, checkout, "apply", "--env", "production", "--no-protect")
    done = statuses(account, checkout, "destroy", "--env", "production", "--yes", "--allow-data-loss")

    assert done[("rds instance", p.db)] == "deleted"
    assert done[("s3 bucket", p.bucket)] == "kept"  # holds the release: --delete-data deletes it
    rds = account.client("rds")
    manual = rds.describe_db_snapshots(DBInstanceIdentifier=p.db, SnapshotType="manual")["DBSnapshots"]
    assert [s["DBSnapshotIdentifier"].startswith(f"{p.db}-final-") for s in manual] == [True]
    assert rds.describe_db_instance_automated_backups(DBInstanceIdentifier=p.db)["DBInstanceAutomatedBackups"]


def test_protect_is_on_for_any_env_name_and_yes_does_not_lift_it(account, checkout, capsys):
    p = plan_for("staging")
    run(account, checkout, "apply", "--env", "staging")  # protect: the default
    run(account, checkout, "apply", "--env", "staging")  # moto: termination protection (see above)
    db = account.client("rds").describe_db_instances(DBInstanceIdentifier=p.db)["DBInstances"][0]
    assert db["DeletionProtection"] and db["BackupRetentionPeriod"] == 7

    run(account, checkout, "destroy", "--env", "staging", "--yes", "--allow-data-loss", code=2)
    assert f"protect is on for ec2 instance {p.host}, rds instance {p.db}" in capsys.readouterr().err
    assert run(account, checkout, "plan", "--env", "staging").count("exists") == N


def test_long_project_names_with_a_shared_prefix_stay_apart(account, checkout, monkeypatch):
    """Acceptance: two projects whose names share 40+ characters apply and destroy independently."""
    plan = infra_module("plan")
    aws = infra_module("aws")
    names = [
        "customer_lifetime_value_forecasting_for_retail_a",
        "customer_lifetime_value_forecasting_for_retail_b",
    ]
    first, second = (plan.Plan(n, "test", "eu-west-1", ACCOUNT) for n in names)
    assert {first.db, first.host, first.bucket, first.broker}.isdisjoint(
        {second.db, second.host, second.bucket, second.broker}
    )
    assert max(len(first.db), len(first.bucket)) <= 63 and len(first.host) <= 64 and len(first.broker) <= 40

    for name in names:
        monkeypatch.setattr(aws, "PROJECT", name)
        run(account, checkout, "apply", "--env", "test", "--no-protect")
    monkeypatch.setattr(aws, "PROJECT", names[0])
    run(account, checkout, "destroy", "--env", "test", "--yes", "--allow-data-loss", "--delete-data")
    assert set(run(account, checkout, "plan", "--env", "test")) == {"create"}
    monkeypatch.setattr(aws, "PROJECT", names[1])
    assert "create" not in run(account, checkout, "plan", "--env", "test")  # all still there


def test_commands_refuse_resources_without_this_environments_tags(account, checkout, capsys):
    """A bucket named by --bucket, or a role of the same name, that is not ours is never touched."""
    s3 = account.client("s3")
    s3.create_bucket(Bucket="unrelated-data", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="unrelated-data", Key="precious.csv", Body=b"1")

    for command in ("plan", "apply", "deploy", "destroy"):
        run(
            account,
            checkout,
            command,
            "--env",
            "other",
            "--bucket",
            "unrelated-data",
            "--delete-data",
            "--yes",
            code=2,
        )
        assert "s3 bucket unrelated-data exists without the tags" in capsys.readouterr().err
    assert s3.get_object(Bucket="unrelated-data", Key="precious.csv")["Body"].read() == b"1"

    account.client("iam").create_role(RoleName=plan_for("squat").host, AssumeRolePolicyDocument="{}")
    run(account, checkout, "apply", "--env", "squat", code=2)
    assert f"iam role {plan_for('squat').host} exists without the tags" in capsys.readouterr().err
