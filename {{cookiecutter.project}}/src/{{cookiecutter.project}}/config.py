"""One settings object, read from the environment, with defaults that run anywhere.

Every stage takes a `Settings`; nothing else reads the environment. Defaults keep
all local state (embedded PostgreSQL, model artifacts, reports, drop folder) under
`STATE_DIR`, so a fresh checkout runs with no configuration at all.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SOURCE_KIND = "{{ cookiecutter.source_kind }}"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# A password in a connection string: URL user info (scheme://user:PASSWORD@host), a URL's
# `password=` parameter (up to the next &), or a libpq `password=` keyword, single-quoted (with \'
# escapes) or else up to the next `key=` or the end of the line. When in doubt, hide more.
_PASSWORDS = (
    re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^:/@\s]*:)\S*(?=@)", re.IGNORECASE),
    re.compile(r"(?P<keep>[?&]password=)[^&\s]*", re.IGNORECASE),
    re.compile(
        r"(?P<keep>(?<![?&\w])password\s*=\s*)(?:'(?:[^'\\]|\\.)*'|[^\n]*?(?=\s+\w+\s*=|\s*(?:\n|$)))",
        re.IGNORECASE,
    ),
)


class ConfigError(ValueError):
    """A setting has a value the pipeline cannot use."""


def redact(text: str) -> str:
    """`text` with every password of a connection string in it (URL or key=value form) as ***."""
    for pattern in _PASSWORDS:
        text = pattern.sub(r"\g<keep>***", text)
    return text


def shown(path: Path) -> str:
    """`path` as messages show it: from the project root, where `make` runs, when it is under it."""
    return str(path.relative_to(PROJECT_ROOT)) if path.is_relative_to(PROJECT_ROOT) else str(path)


def start_date(env: dict[str, str] | None = None) -> datetime:
    """The first data date the DAGs run for: START_DATE, else the date chosen at generation.

    Read by the DAG files when they are parsed (stdlib only, so parsing stays cheap).
    """
    value = (os.environ if env is None else env).get("START_DATE") or "{{ cookiecutter.start_date }}"
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"START_DATE={value!r}: expected a date written YYYY-MM-DD") from None
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def promotion_approval(env: dict[str, str] | None = None) -> bool:
    """Whether a person approves each promotion (PROMOTION_APPROVAL=on) before the gate's decision
    is applied; read by the retrain DAG file when it is parsed. Off by default."""
    value = (os.environ if env is None else env).get("PROMOTION_APPROVAL", "off").strip().lower()
    if value not in ("on", "off"):
        raise ConfigError(f"PROMOTION_APPROVAL={value!r}: expected on or off")
    return value == "on"


def scoring_shards(env: dict[str, str] | None = None) -> int:
    """How many tasks score each date: SCORING_SHARDS, default 1 (one `predict` task).

    Read by the daily DAG when it is parsed, which hands the number to its tasks.
    """
    value = (os.environ if env is None else env).get("SCORING_SHARDS") or "1"
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise ConfigError(f"SCORING_SHARDS={value!r}: expected a whole number from 1 to 64")
    return int(value)


@dataclass(frozen=True)
class Settings:
    state_dir: Path
    warehouse_url: str | None  # None: start the embedded PostgreSQL under state_dir
    schema: str
    source_url: str | None  # postgres source; None: the warehouse itself
    source_schema: str
    source_queries_dir: Path | None  # postgres source: <dataset>.sql overrides; None: read by date_column
    s3_source_uri: str
    drop_dir: Path
    artifacts_uri: str
    reports_dir: Path
    aws_region: str
    chunk_rows: int
    training_window_days: int | None  # None: the data scientists' model/window.py WINDOW_DAYS
    staging_retention_days: int | None = None  # None: staged partitions are kept for ever
    s3_bucket_owner: str | None = None  # account ID every S3 call expects (ExpectedBucketOwner)

    def __repr__(self) -> str:
        # The URLs may hold passwords: shown redacted, as in every message.
        shown = {f.name: getattr(self, f.name) for f in fields(self)}
        shown.update({name: redact(shown[name]) for name in ("warehouse_url", "source_url") if shown[name]})
        return f"Settings({', '.join(f'{name}={value!r}' for name, value in shown.items())})"

    def __post_init__(self) -> None:
        # Schema names are spliced into SQL as identifiers, so they must be plain.
        for name in ("schema", "source_schema"):
            if not _IDENTIFIER.match(getattr(self, name)):
                raise ConfigError(f"{name}={getattr(self, name)!r}: must be a lowercase SQL identifier")
        for name, low in (("chunk_rows", 1), ("training_window_days", 2), ("staging_retention_days", 1)):
            value = getattr(self, name)
            if value is not None and value < low:
                raise ConfigError(f"{name} must be >= {low} (got {value})")

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        state = Path(env.get("STATE_DIR", PROJECT_ROOT / ".local")).resolve()
        try:
            chunk_rows = int(env.get("EXTRACT_CHUNK_ROWS", "100000"))
            window = int(env["TRAINING_WINDOW_DAYS"]) if env.get("TRAINING_WINDOW_DAYS") else None
            retention = int(env["STAGING_RETENTION_DAYS"]) if env.get("STAGING_RETENTION_DAYS") else None
        except ValueError as exc:
            raise ConfigError(f"numeric setting is not an integer: {exc}") from None
        return cls(
            state_dir=state,
            warehouse_url=env.get("WAREHOUSE_URL") or _airflow_connection_uri("warehouse"),
            schema=env.get("WAREHOUSE_SCHEMA", "{{ cookiecutter.warehouse_schema }}"),
            source_url=env.get("SOURCE_URL") or None,
            source_schema=env.get("SOURCE_SCHEMA", "source"),
            source_queries_dir=Path(env["SOURCE_QUERIES_DIR"]) if env.get("SOURCE_QUERIES_DIR") else None,
            s3_source_uri=env.get(
                "SOURCE_S3_URI",
                "s3://{{ cookiecutter.project | replace('_', '-') }}-data/incoming",
            ),
            drop_dir=Path(env.get("SOURCE_DROP_DIR", state / "drop")),
            artifacts_uri=env.get("ARTIFACTS_URI", str(state / "artifacts")),
            reports_dir=Path(env.get("REPORTS_DIR", state / "reports")),
            aws_region=env.get("AWS_REGION", "{{ cookiecutter.aws_region }}"),
            chunk_rows=chunk_rows,
            training_window_days=window,
            staging_retention_days=retention,
            s3_bucket_owner=env.get("S3_BUCKET_OWNER") or None,
        )


def _airflow_connection_uri(conn_id: str) -> str | None:
    """URI of an Airflow connection when running inside Airflow, else None.

    Outside Airflow it is not imported here: that costs seconds, and would fix
    Airflow's configuration (AIRFLOW_HOME) before the caller has set it.
    """
    if "airflow.sdk" not in sys.modules:
        return None
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id).get_uri()
    except AirflowNotFoundException:
        return None
