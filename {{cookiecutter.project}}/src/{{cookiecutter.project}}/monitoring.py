"""Monitoring per scored date: batch health before scoring, feature drift and model performance after.

- `check_batch`: the validated features partition's volume against the median of the
  trailing partitions, an exact re-delivery of the previous partition (by a content
  fingerprint), columns stuck at one value. Runs before `predict`.
- `monitor_drift`: the population stability index of each model input against the
  training reference of the version that scored the date (stored at registration).
- `track_performance`: once labels arrive, the scored dates they label are joined to
  their predictions and their metrics stored.

Each writes its rows for the date in one transaction, replacing a rerun's. The
thresholds, and what a breach does, are the data scientists' (model/monitoring.py).
Only `track_performance` imports scikit-learn (the data scientists' metrics): checking a
batch, and registering a version's reference while staging a training window, do not.
"""

from __future__ import annotations

import json
import logging
from datetime import date
from statistics import median

import numpy as np
import pandas as pd
from psycopg2 import sql

from . import staging
from .config import Settings
from .failures import PermanentFailure
from .interval import Interval
from .model import monitoring as policy
from .model.contract import CONTRACT
from .model.features import build_features
from .warehouse import fetch_all, transaction

log = logging.getLogger(__name__)
DECILES = np.linspace(0.1, 0.9, 9)
MAX_CATEGORIES = 50
LOOKBACK_DAYS = 35  # label partitions searched for scored dates never measured
_SMALL = 1e-4  # an empty bin's share, so that log(actual / expected) stays finite


class BatchUnhealthy(PermanentFailure, RuntimeError):
    """The batch breaks a batch-health rule (volume, re-delivery, stuck columns) set to fail the run."""


# --------------------------------------------------------------------------- the training reference


def reference(X: pd.DataFrame) -> list[dict]:
    """Each model input's bins (deciles, or categories) and their shares in `X`, the fitted rows."""
    entries = []
    for feature in X.columns:
        values = X[feature]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            known = values.astype("float64").dropna()
            bins = sorted(set(np.quantile(known, DECILES).tolist())) if len(known) else []
            kind = "numeric"
        else:
            bins = values.dropna().astype(str).value_counts().index[:MAX_CATEGORIES].tolist()
            kind = "categorical"
        entries.append(
            {"feature": str(feature), "kind": kind, "bins": bins, "shares": shares(kind, bins, values)}
        )
    return entries


def shares(kind: str, bins: list, values: pd.Series) -> list[float]:
    """The share of `values` in each bin, then "other" (categorical only), then missing."""
    missing = values.isna().to_numpy()
    present = values[~missing]
    if kind == "numeric":
        counts = np.bincount(
            np.searchsorted(bins, present.astype("float64"), side="right"), minlength=len(bins) + 1
        )
    else:
        text = present.astype(str)
        counts = [int((text == b).sum()) for b in bins] + [int((~text.isin(bins)).sum())]
    counts = np.append(np.asarray(counts, dtype=float), missing.sum())
    return (counts / max(len(values), 1)).tolist()


def psi(expected: list[float], actual: list[float]) -> float:
    """Population stability index: sum over bins of (actual - expected) * ln(actual / expected)."""
    e, a = np.clip(expected, _SMALL, None), np.clip(actual, _SMALL, None)
    return float(np.sum((a - e) * np.log(a / e)))


def record_reference(settings: Settings, version: str, X: pd.DataFrame) -> None:
    """Store the training reference of a version; a rerun with the same version is a no-op."""
    with transaction(settings) as conn, conn.cursor() as cur:
        for entry in reference(X):
            cur.execute(
                """INSERT INTO feature_reference (version, feature, kind, bins, shares)
                   VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
                (
                    version,
                    entry["feature"],
                    entry["kind"],
                    json.dumps(entry["bins"]),
                    json.dumps(entry["shares"]),
                ),
            )


# --------------------------------------------------------------------------- batch health


def check_batch(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Record the health of the features partition of `interval`; raise BatchUnhealthy on a
    breach when model/monitoring.py says a breach fails the run."""
    features, day = CONTRACT.features, interval.partition
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            """SELECT data_date, row_count FROM staging_batches WHERE dataset = %s AND data_date <= %s
               ORDER BY data_date DESC LIMIT %s""",
            (features.name, day, policy.TRAILING_DAYS + 1),
        )
        batches = cur.fetchall()
        if not batches or batches[0][0] != day:
            raise BatchUnhealthy(f"{features.name} for {day} has not been extracted")
        rows, earlier = batches[0][1], [n for _, n in batches[1:]]
        trailing = median(earlier) if earlier else None
        ratio = rows / trailing if trailing else None
        previous = batches[1][0] if len(batches) > 1 else None
        identical = (
            previous is not None and rows > 0 and _fingerprint(cur, day) == _fingerprint(cur, previous)
        )
        stuck = _stuck_columns(cur, day) if rows > 1 else []
        breaches = _breaches(ratio, previous if identical else None, stuck)
        cur.execute("DELETE FROM batch_health WHERE data_date = %s", (day,))
        cur.execute(
            """INSERT INTO batch_health (data_date, row_count, rows_vs_trailing_median, identical_to_previous,
                                         stuck_columns, breaches, run_id) VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (day, rows, ratio, identical, stuck, breaches, run_id),
        )
    health = {
        "rows": rows,
        "rows_vs_trailing_median": ratio,
        "identical_to_previous": identical,
        "stuck": stuck,
    }
    if breaches:
        message = f"{features.name} for {day}: batch health breached: " + "; ".join(breaches)
        log.warning(message)
        if policy.ON_BATCH_BREACH == "fail":
            raise BatchUnhealthy(message + " (model/monitoring.py: ON_BATCH_BREACH = 'fail')")
    return {**health, "breaches": breaches}


def _breaches(ratio: float | None, identical_to: date | None, stuck: list[str]) -> list[str]:
    low, high = policy.ROWS_VS_TRAILING_MEDIAN
    found = []
    if ratio is not None and not low <= ratio <= high:
        found.append(f"{ratio:.2f} times the trailing median row count, outside [{low}, {high}]")
    if identical_to:
        found.append(f"the same rows as {identical_to}: a re-delivery")
    if stuck:
        found.append(f"one value all day in {', '.join(stuck)}")
    return found


def _checked_columns() -> list[str]:
    """Contract columns whose content says something of the batch (not the date the batch is of)."""
    return [c for c in CONTRACT.features.names if c != CONTRACT.features.date_column]


def _fingerprint(cur, day: date) -> str | None:
    """A hash of the partition's rows, whatever their order."""
    row = sql.SQL("md5(row({})::text)").format(sql.SQL(", ").join(map(sql.Identifier, _checked_columns())))
    cur.execute(
        sql.SQL("SELECT md5(string_agg({row}, '' ORDER BY {row})) FROM {table} WHERE data_date = %s").format(
            row=row, table=sql.Identifier(CONTRACT.features.table)
        ),
        (day,),
    )
    return cur.fetchone()[0]


def _stuck_columns(cur, day: date) -> list[str]:
    columns = [c for c in _checked_columns() if c != CONTRACT.key and c not in policy.CONSTANT_COLUMNS]
    if not columns:
        return []
    distinct = sql.SQL(", ").join(sql.SQL("count(DISTINCT {})").format(sql.Identifier(c)) for c in columns)
    cur.execute(
        sql.SQL("SELECT {} FROM {} WHERE data_date = %s").format(
            distinct, sql.Identifier(CONTRACT.features.table)
        ),
        (day,),
    )
    return [c for c, n in zip(columns, cur.fetchone(), strict=True) if n <= 1]


# --------------------------------------------------------------------------- drift


def monitor_drift(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Store each model input's PSI for the scored date, against its scoring version's reference."""
    features, day = CONTRACT.features, interval.partition
    versions = fetch_all(
        settings, "SELECT DISTINCT model_version FROM predictions WHERE data_date = %s", (day,)
    )
    if len(versions) != 1:
        return {"skipped": f"{len(versions)} model versions scored {day}"}
    (version,) = versions[0]
    entries = fetch_all(
        settings, "SELECT feature, kind, bins, shares FROM feature_reference WHERE version = %s", (version,)
    )
    if not entries:
        return {"skipped": f"{version} has no training reference"}
    with transaction(settings) as conn:
        frame = staging.read(conn, staging.select(features), (day,), features.dtypes)
    X = build_features(frame)
    drift = {
        feature: psi(expected, shares(kind, bins, X[feature])) for feature, kind, bins, expected in entries
    }
    breached = sorted(
        f for f, value in drift.items() if value > policy.PSI_BREACH and f not in policy.DRIFT_EXEMPT
    )
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute("DELETE FROM feature_drift WHERE data_date = %s", (day,))
        for feature, value in drift.items():
            cur.execute(
                """INSERT INTO feature_drift (data_date, feature, psi, reference_version, breached, run_id)
                   VALUES (%s, %s, %s, %s, %s, %s)""",
                (day, feature, value, version, feature in breached, run_id),
            )
    if breached:
        log.warning("%s: drift above PSI %s in %s", day, policy.PSI_BREACH, ", ".join(breached))
    return {"version": version, "breached": breached}


# --------------------------------------------------------------------------- performance


def track_performance(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Store the metrics of each scored date whose labels arrived in `interval`, and of any date
    of the last LOOKBACK_DAYS of labels that was scored and never measured (a run that failed)."""
    from .model import metrics

    labels, day = CONTRACT.labels, interval.partition
    labelled = fetch_all(
        settings,
        sql.SQL(
            """SELECT DISTINCT l.{date} FROM {labels} l JOIN predictions p ON p.data_date = l.{date}
               WHERE l.data_date > %s::date - %s AND l.data_date <= %s
                 AND (l.data_date = %s OR NOT EXISTS (SELECT FROM model_performance m WHERE m.data_date = l.{date}))
               ORDER BY 1"""
        ).format(date=sql.Identifier(CONTRACT.labelled_date), labels=sql.Identifier(labels.table)),
        (day, LOOKBACK_DAYS, day, day),
    )
    done = {}
    for (scored_day,) in labelled:
        for version, rows in _scored_with_labels(settings, scored_day).groupby("model_version"):
            done[(scored_day.isoformat(), version)] = _record_performance(
                settings, scored_day, version, rows, run_id
            )
    breached = sorted({d for (d, _), ok in done.items() if not ok})
    if breached:
        log.warning("primary metric %s below its floor on %s", metrics.PRIMARY, ", ".join(breached))
    return {"dates": sorted({d for d, _ in done}), "breached": breached}


def _scored_with_labels(settings: Settings, day: date) -> pd.DataFrame:
    """The predictions of `day` with their labels; a label delivered twice counts once, the latest."""
    labels = CONTRACT.labels
    query = sql.SQL(
        """SELECT p.model_version, p.score, l.{label} AS label FROM predictions p
           JOIN (SELECT DISTINCT ON ({key}) {key}, {label} FROM {labels}
                 WHERE {labelled} = %s AND {label} IS NOT NULL ORDER BY {key}, data_date DESC) l
             ON l.{key} = p.entity_id
           WHERE p.data_date = %s"""
    ).format(
        key=sql.Identifier(CONTRACT.key),
        label=sql.Identifier(CONTRACT.label),
        labels=sql.Identifier(labels.table),
        labelled=sql.Identifier(CONTRACT.labelled_date),
    )
    with transaction(settings, read_only=True) as conn:
        return staging.read(conn, query, (day, day), {"score": "Float64", "label": "Float64"})


def _record_performance(settings: Settings, day: date, version: str, rows: pd.DataFrame, run_id: str) -> bool:
    """Store one date's metrics for one version; False when the primary metric breached its floor."""
    from .model import metrics

    try:
        scores = metrics.evaluate(rows["label"].to_numpy(dtype=float), rows["score"].to_numpy(dtype=float))
    except ValueError as exc:  # e.g. one class only among the day's labels: no metric is defined
        log.warning("%s: no performance for %s: %s", day, version, exc)
        return True
    floor = metrics.MINIMUM if policy.PERFORMANCE_FLOOR is None else policy.PERFORMANCE_FLOOR
    ok = scores[metrics.PRIMARY] >= floor
    with transaction(settings) as conn, conn.cursor() as cur:
        cur.execute(
            "DELETE FROM model_performance WHERE data_date = %s AND model_version = %s", (day, version)
        )
        for metric, value in scores.items():
            if metric != "rows":
                cur.execute(
                    """INSERT INTO model_performance (data_date, metric, value, model_version, rows, breached, run_id)
                       VALUES (%s, %s, %s, %s, %s, %s, %s)""",
                    (day, metric, value, version, len(rows), metric == metrics.PRIMARY and not ok, run_id),
                )
    return ok


# --------------------------------------------------------------------------- acting on breaches


def retrain_requested(settings: Settings, interval: Interval, run_id: str) -> bool:
    """Whether this run found drift or a performance breach and model/monitoring.py asks for a retrain."""
    if policy.ON_MODEL_BREACH != "retrain":
        return False
    found = fetch_all(
        settings,
        """SELECT (SELECT count(*) FROM feature_drift WHERE data_date = %s AND breached)
                + (SELECT count(*) FROM model_performance WHERE run_id = %s AND breached)""",
        (interval.partition, run_id),
    )
    return found[0][0] > 0
