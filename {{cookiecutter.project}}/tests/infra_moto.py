"""What the tests of infra/ share: a fake AWS account (moto, fake credentials: nothing here
can reach AWS), the infra package, a git checkout to release, and `python -m infra.aws`."""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
PROJECT = "{{ cookiecutter.project }}"
REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
# moto refuses parameter names under /aws/: this one stands in for Ubuntu's public one.
AMI_PARAMETER = "/test/ubuntu/ami-id"
OUT_OF_REACH = (
    "AWS_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_ENDPOINT_URL",
    "MOTO_ACCOUNT_ID",
)


def infra_module(name: str):
    """infra.<name>: infra/ is a folder of the project root (`python -m infra.aws`), not installed."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module(f"infra.{name}")


def fake_credentials(patch: pytest.MonkeyPatch, folder: Path) -> None:
    for name in OUT_OF_REACH:
        patch.delenv(name, raising=False)
    patch.setenv("AWS_ACCESS_KEY_ID", "testing")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    patch.setenv("AWS_CONFIG_FILE", str(folder / "config"))
    patch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(folder / "credentials"))
    patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    patch.setenv("AWS_REGION", REGION)
    patch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture(scope="module")
def account(tmp_path_factory):
    """A fake AWS account for the module, with one machine image; tests keep apart by env name."""
    with pytest.MonkeyPatch.context() as patch:
        fake_credentials(patch, tmp_path_factory.mktemp("aws"))
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        # moto ignores the condition of the bucket policy's TLS-only Deny and so would refuse
        # every object request: that check is left to AWS (the policy is asserted in the tests).
        patch.setattr(FakeBucket, "get_permission", lambda *args: PermissionResult.NEUTRAL)
        with mock_aws():
            session = boto3.Session(region_name=REGION)
            image = session.client("ec2").register_image(Name="ubuntu-24.04", RootDeviceName="/dev/sda1")
            session.client("ssm").put_parameter(Name=AMI_PARAMETER, Value=image["ImageId"], Type="String")
            yield session


def git(folder: Path, *args: str) -> str:
    command = ["git", "-C", str(folder), "-c", "user.email=t@example.com", "-c", "user.name=t", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A committed project to release, with what a working tree also holds: untracked files."""
    folder = tmp_path_factory.mktemp("checkout")
    files = {"infra/deploy.sh": "echo deploy\n", "src/pkg/a.py": "A = 1\n", "constraints.txt": "x==1\n"}
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    (folder / "infra/deploy.sh").chmod(0o775)
    (folder / "src/pkg/a.py").chmod(0o664)
    git(folder, "init", "-q")
    git(folder, "add", ".")
    git(folder, "commit", "-qm", "release")
    (folder / ".env").write_text("PASSWORD=leak\n")  # untracked: never shipped
    (folder / "export.csv").write_text("a,b\n")
    return folder


def run(session, checkout: Path, *args: str, code: int = 0) -> list[str]:
    """`python -m infra.aws ARGS`: the status word of each resource line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert infra_module("aws").main([*args, "--ami-parameter", AMI_PARAMETER], session, checkout) == code
    lines = out.getvalue().splitlines()
    return [line.split()[0] for line in lines[1:]]


def statuses(session, checkout: Path, *args: str) -> dict[tuple[str, str], str]:
    """`python -m infra.aws ARGS`: {(kind, name): status} of each resource line."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert infra_module("aws").main([*args, "--ami-parameter", AMI_PARAMETER], session, checkout) == 0
    result = {}
    for line in out.getvalue().splitlines()[1:]:
        status, rest = line.split(maxsplit=1)
        kind, name = rest[:18].strip(), rest[18:].strip()
        result[(kind, name.split(" (")[0])] = status
    return result


def plan_for(env: str, **options):
    return infra_module("plan").Plan(PROJECT, env, REGION, ACCOUNT, **options)
