"""Model versions: artifacts with checksums, metrics, and the champion alias.

`model_versions` holds every trained version; exactly one may be `champion`.
`model_promotions` is the append-only record of every decision (promote, reject,
rollback) with its reason, so "what was in production when" is a SQL query.
"""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
from dataclasses import dataclass
from datetime import date
from importlib import metadata

import joblib

from . import artifacts
from .config import PROJECT_ROOT, Settings
from .failures import PermanentFailure
from .model import KIND
from .warehouse import fetch_all, transaction


class ModelUnavailable(PermanentFailure, RuntimeError):
    """No usable model: none registered yet, or its file is missing or corrupt."""


@dataclass(frozen=True)
class Version:
    version: str
    metrics: dict
    artifact_uri: str
    sha256: str


def register(
    settings: Settings,
    model,
    metrics: dict,
    train_start: date,
    train_end: date,
    train_rows: int,
    run_id: str,
    tuning: dict | None = None,
) -> Version:
    """Store the artifact and record a candidate version; a rerun with the same model is a no-op.

    `tuning` is what a hyperparameter search tried, when model/estimator.py gives one."""
    buf = io.BytesIO()
    joblib.dump(model, buf)
    data = buf.getvalue()
    sha = hashlib.sha256(data).hexdigest()
    version = f"{train_end:%Y%m%d}-{sha[:10]}"
    uri = artifacts.put(
        settings.artifacts_uri, f"{version}/model.joblib", data, settings.aws_region, settings.s3_bucket_owner
    )
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO model_versions (version, model_kind, code_version, train_start,
                   train_end, train_rows, metrics, artifact_uri, sha256, status, run_id, tuning)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'candidate', %s, %s)
               ON CONFLICT (version) DO NOTHING""",
            (
                version,
                KIND,
                code_version(),
                train_start,
                train_end,
                train_rows,
                json.dumps(metrics),
                uri,
                sha,
                run_id,
                None if tuning is None else json.dumps(tuning),
            ),
        )
    return Version(version, metrics, uri, sha)


def record_report(settings: Settings, version: str, path: str, run_id: str) -> None:
    """Record where a version's training report is; a rerun's report replaces it."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """INSERT INTO training_reports (version, report_path, run_id) VALUES (%s, %s, %s)
               ON CONFLICT (version) DO UPDATE SET report_path = EXCLUDED.report_path,
                 run_id = EXCLUDED.run_id, rendered_at = now()""",
            (version, path, run_id),
        )


def champion(settings: Settings) -> Version | None:
    rows = fetch_all(
        settings,
        "SELECT version, metrics, artifact_uri, sha256 FROM model_versions WHERE status = 'champion'",
    )
    return Version(*rows[0]) if rows else None


def load(settings: Settings, version: Version):
    """The fitted model of `version`, after checking its bytes against the registered sha256.

    Only a file under ARTIFACTS_URI is read: a pickle is code, and model_versions names the file.
    """
    if not artifacts.within(version.artifact_uri, settings.artifacts_uri):
        raise ModelUnavailable(
            f"model {version.version}: {version.artifact_uri} is not under ARTIFACTS_URI "
            f"({settings.artifacts_uri}); refusing to read it"
        )
    try:
        data = artifacts.get(version.artifact_uri, settings.aws_region, settings.s3_bucket_owner)
    except Exception as exc:  # missing file, S3 error: same remedy for the operator
        raise ModelUnavailable(f"model {version.version}: cannot read {version.artifact_uri}: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != version.sha256:
        raise ModelUnavailable(
            f"model {version.version}: {version.artifact_uri} is corrupt "
            f"(sha256 {digest[:12]}…, registered {version.sha256[:12]}…); roll back or retrain"
        )
    return joblib.load(io.BytesIO(data))


def decide(settings: Settings, version: str, promote: bool, reason: str, run_id: str) -> None:
    """Record the gate's decision; on promote, the old champion retires in the same transaction."""
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM model_versions WHERE status = 'champion' FOR UPDATE")
        previous = (cur.fetchone() or [None])[0]
        if promote and previous != version:
            cur.execute("UPDATE model_versions SET status = 'retired' WHERE version = %s", (previous,))
            cur.execute("UPDATE model_versions SET status = 'champion' WHERE version = %s", (version,))
        elif not promote:
            cur.execute(
                """UPDATE model_versions SET status = 'rejected'
                                        WHERE version = %s AND status = 'candidate'""",
                (version,),
            )
        cur.execute(
            """INSERT INTO model_promotions (version, previous, action, reason, run_id)
                            VALUES (%s, %s, %s, %s, %s)""",
            (version, previous, "promote" if promote else "reject", reason, run_id),
        )


def rollback(settings: Settings, reason: str, run_id: str, to_version: str | None = None) -> str:
    """Make `to_version` (default: the champion before the current one) champion again.

    Recorded in model_promotions like any decision; the next daily run scores with it.
    """
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("SELECT version FROM model_versions WHERE status = 'champion' FOR UPDATE")
        current = (cur.fetchone() or [None])[0]
        if to_version is None:
            cur.execute(
                """SELECT previous FROM model_promotions
                   WHERE version = %s AND action IN ('promote', 'rollback') AND previous IS NOT NULL
                   ORDER BY id DESC LIMIT 1""",
                (current,),
            )
            to_version = (cur.fetchone() or [None])[0]
        cur.execute("SELECT status FROM model_versions WHERE version = %s", (to_version,))
        if to_version is None or cur.fetchone() is None:
            raise ModelUnavailable(f"nothing to roll back to from {current!r}: name a registered version")
        if to_version == current:
            raise ModelUnavailable(f"{to_version} is already the champion")
        cur.execute("UPDATE model_versions SET status = 'retired' WHERE version = %s", (current,))
        cur.execute("UPDATE model_versions SET status = 'champion' WHERE version = %s", (to_version,))
        cur.execute(
            """INSERT INTO model_promotions (version, previous, action, reason, run_id)
               VALUES (%s, %s, 'rollback', %s, %s)""",
            (to_version, current, reason, run_id),
        )
    return to_version


def code_version() -> str:
    """Package version, plus the git commit when the project is a checkout."""
    version = metadata.version("{{ cookiecutter.project }}")
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return version
    return f"{version}+g{sha}"


if __name__ == "__main__":  # `make rollback REASON="…" [VERSION=…]`
    import argparse
    import getpass

    parser = argparse.ArgumentParser(description="Roll the champion back to an earlier model version.")
    parser.add_argument("--reason", required=True, help="why, for the audit log in model_promotions")
    parser.add_argument("--to-version", help="version to restore (default: the previous champion)")
    args = parser.parse_args()
    restored = rollback(Settings.from_env(), args.reason, f"manual__{getpass.getuser()}", args.to_version)
    print(f"champion is now {restored}")
