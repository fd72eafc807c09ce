"""infra/storage.py and infra/release.py: owned buckets, security drift, verified releases."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile

import boto3
import pytest
from infra_moto import ACCOUNT, INFRA, fake_credentials, git, infra_module, plan_for, run
from moto.server import ThreadedMotoServer

pytest_plugins = ["infra_moto"]  # the fake account and the checkout to release


def test_apply_in_account_b_refuses_a_bucket_account_a_created(account, checkout, monkeypatch, capsys):
    """Acceptance: the squatter's bucket, even named as B's would be, never receives B's release."""
    victim = "210987654321"
    monkeypatch.setenv("MOTO_ACCOUNT_ID", victim)
    squat = plan_for("prod").__class__(plan_for("prod").project, "prod", "eu-west-1", victim).bucket
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)  # account A takes B's name first
    account.client("s3").create_bucket(
        Bucket=squat, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )

    monkeypatch.setenv("MOTO_ACCOUNT_ID", victim)
    run(account, checkout, "apply", "--env", "prod", code=2)
    assert f"s3 bucket {squat} exists but account {victim} does not own it" in capsys.readouterr().err
    monkeypatch.setenv("MOTO_ACCOUNT_ID", ACCOUNT)
    assert account.client("s3").list_objects_v2(Bucket=squat).get("KeyCount") == 0


def test_buckets_are_locked_down_and_log_access(account, checkout):
    p = plan_for("store")
    run(account, checkout, "apply", "--env", "store", "--no-wait")
    s3 = account.client("s3")
    for bucket in (p.bucket, p.log_bucket):
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert set(block.values()) == {True} and len(block) == 4
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        (tls,) = [
            s
            for s in json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
            if s["Effect"] == "Deny"
        ]
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    logging = s3.get_bucket_logging(Bucket=p.bucket)["LoggingEnabled"]
    assert logging["TargetBucket"] == p.log_bucket


def test_apply_reports_and_fixes_security_drift_of_a_bucket(account, checkout):
    p = plan_for("drift")
    run(account, checkout, "apply", "--env", "drift", "--no-wait")
    s3 = account.client("s3")
    s3.delete_public_access_block(Bucket=p.bucket)
    s3.put_bucket_versioning(Bucket=p.bucket, VersioningConfiguration={"Status": "Suspended"})
    s3.delete_bucket_encryption(Bucket=p.bucket)

    storage = infra_module("storage").Storage(p, account)
    assert storage.drift(p.bucket, logs=False) == [
        "public access not blocked",
        "no default encryption",
        "versioning off",
    ]
    planned = run(account, checkout, "plan", "--env", "drift")
    assert planned[1] == "drift" and s3.get_bucket_versioning(Bucket=p.bucket)["Status"] == "Suspended"
    assert run(account, checkout, "apply", "--env", "drift", "--no-wait")[1] == "fixed"
    assert storage.drift(p.bucket, logs=False) == []


def test_every_s3_call_names_the_expected_owner(account, checkout):
    names = []

    def record(params, model, **kwargs):
        if "ExpectedBucketOwner" in model.input_shape.members:
            names.append((model.name, params.get("ExpectedBucketOwner")))

    account.events.register("provide-client-params.s3", record)
    try:
        run(account, checkout, "apply", "--env", "owner", "--no-wait", "--no-protect")
        run(account, checkout, "destroy", "--env", "owner", "--yes", "--allow-data-loss", "--delete-data")
    finally:
        account.events.unregister("provide-client-params.s3", record)
    assert len(names) > 20 and {owner for _, owner in names} == {ACCOUNT}, names


def test_release_is_the_commit_with_normalised_modes(checkout):
    release = infra_module("release")
    built = release.build(checkout)

    assert built.commit == git(checkout, "rev-parse", "HEAD").strip()
    with tarfile.open(fileobj=io.BytesIO(built.data)) as tar:
        members = {m.name: m for m in tar.getmembers() if m.isfile()}
    assert set(members) == {"infra/deploy.sh", "src/pkg/a.py", "constraints.txt"}  # no .env, no export
    assert (members["infra/deploy.sh"].mode, members["src/pkg/a.py"].mode) == (0o755, 0o644)
    assert {(m.uid, m.uname) for m in members.values()} == {(0, "root")}
    committed = int(git(checkout, "log", "-1", "--format=%ct").strip())
    assert {m.mtime for m in members.values()} == {committed}  # not the time it was built
    assert release.build(checkout).sha256 == built.sha256  # the same bytes for the same commit

    (checkout / "src/pkg/a.py").write_text("A = 2\n")
    try:
        with pytest.raises(release.Refused, match="commit or stash"):
            release.build(checkout)
    finally:
        git(checkout, "checkout", "--", "src/pkg/a.py")


@pytest.fixture
def moto_server(tmp_path, monkeypatch):
    """moto over HTTP, for the host's script that runs in its own process."""
    fake_credentials(monkeypatch, tmp_path)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    endpoint = "http://{}:{}".format(*server.get_host_and_port())
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    yield boto3.Session(region_name="eu-west-1")
    server.stop()


def fetch(tmp_path, plan) -> subprocess.CompletedProcess:
    """`deploy.sh --fetch-only`: its verification step, with this venv's Python and boto3."""
    (tmp_path / "opt/tools/bin").mkdir(parents=True, exist_ok=True)
    python = tmp_path / "opt/tools/bin/python"
    python.unlink(missing_ok=True)
    python.symlink_to(sys.executable)
    env_file = tmp_path / "airflow.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in plan.airflow_env().items()))
    env = {**os.environ, "DEPLOY_ENV_FILE": str(env_file), "DEPLOY_ROOT": str(tmp_path / "opt")}
    target = tmp_path / "release"
    return subprocess.run(
        ["bash", str(INFRA / "deploy.sh"), "--fetch-only", str(target)],
        env=env,
        capture_output=True,
        text=True,
    )


def test_deploy_sh_installs_only_the_release_the_manifest_names(moto_server, checkout, tmp_path):
    """Acceptance: deploy.sh refuses a release whose sha256 does not match."""
    p = plan_for("verify")
    storage = infra_module("storage").Storage(p, moto_server, checkout)
    storage.create_bucket(p.log_bucket, logs=True)
    storage.create_bucket(p.bucket, logs=False)
    manifest = storage.upload(infra_module("release").build(checkout))

    done = fetch(tmp_path, p)
    assert done.returncode == 0, done.stderr
    assert f"sha256 {manifest['sha256']}" in done.stdout
    assert (tmp_path / "release/src/pkg/a.py").read_text() == "A = 1\n"

    # Whoever can write releases/ but not fake a sha256: a swapped object at the same key...
    s3 = moto_server.client("s3")
    s3.put_object(Bucket=p.bucket, Key=manifest["key"], Body=b"not the release")
    assert fetch(tmp_path / "swapped", p).returncode == 0  # ...is ignored: the manifest pins the version
    # ...and a manifest whose sha256 does not match the bytes is refused, nothing unpacked.
    s3.put_object(
        Bucket=p.bucket, Key="releases/current.json", Body=json.dumps({**manifest, "sha256": "0" * 64})
    )
    refused = fetch(tmp_path / "bad", p)
    assert refused.returncode != 0 and "refused" in refused.stderr and "sha256" in refused.stderr
    assert not (tmp_path / "bad/release").exists()
