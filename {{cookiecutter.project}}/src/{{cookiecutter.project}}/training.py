"""Retraining: gather a labelled window, fit, evaluate on a holdout, register, gate.

The window is the labels observed in the window's days before the run's interval
end, joined to the features rows they label. Only features partitions that passed
validation are used. Every query names the partitions it reads (the labels by the
window's dates, the features by the dates those labels point at), so its cost
follows the window, not the history staged. How long the window is, how many rows
it needs and what is held out are the data scientists' choices, in `model/window.py`.
scikit-learn is imported by `train` and `promote` only: staging the window does not need it.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
from psycopg2 import sql

from . import model, monitoring, registry, staging
from .config import Settings
from .extraction import extract
from .failures import PermanentFailure
from .interval import Interval
from .model import window
from .model.contract import CONTRACT
from .model.features import build_features
from .validation import ValidationFailed, validate
from .warehouse import transaction


class NotEnoughData(PermanentFailure, RuntimeError):
    """The window holds too few validated, labelled rows to train on."""


def window_of(settings: Settings, interval: Interval) -> tuple[date, date]:
    end = interval.end.date()
    return end - timedelta(days=settings.training_window_days or window.WINDOW_DAYS), end


def stage_window(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Extract the window's labels, and extract + validate the features partitions they label.

    Features partitions already validated since their extraction are reused. A
    partition failing validation is left out of training, not fatal.
    """
    start, end = window_of(settings, interval)
    for offset in range((end - start).days):
        extract(settings, CONTRACT.labels, Interval.day(start + timedelta(days=offset)), run_id)
    with transaction(settings) as conn:
        pending = [day for day, validated in labelled_days(conn, start, end).items() if not validated]
    rejected = []
    for day in pending:
        extract(settings, CONTRACT.features, Interval.day(day), run_id)
        try:
            validate(settings, Interval.day(day), run_id)
        except ValidationFailed:
            rejected.append(day.isoformat())
    return {"start": start.isoformat(), "end": end.isoformat(), "staged": len(pending), "rejected": rejected}


def labelled_days(conn, start: date, end: date) -> dict[date, bool]:
    """The features partitions that the labels observed in [start, end) point at, each with
    whether it passed validation since it was last extracted."""
    query = sql.SQL(
        """SELECT DISTINCT l.{labelled}, p.success IS TRUE FROM {labels} l
           LEFT JOIN partition_status p ON p.dataset = %s AND p.data_date = l.{labelled}
           WHERE l.data_date >= %s AND l.data_date < %s AND l.{labelled} IS NOT NULL
           ORDER BY 1"""
    ).format(labelled=sql.Identifier(CONTRACT.labelled_date), labels=sql.Identifier(CONTRACT.labels.table))
    with conn.cursor() as cur:
        cur.execute(query, (CONTRACT.features.name, start, end))
        return dict(cur.fetchall())


def load_window(settings: Settings, start: date, end: date) -> pd.DataFrame:
    """The labels observed in [start, end), each joined to the validated features row it labels."""
    features, labels = CONTRACT.features, CONTRACT.labels
    dtypes = {**features.dtypes, CONTRACT.label: labels.column(CONTRACT.label).kind.pandas}
    with transaction(settings, read_only=True) as conn:
        validated = [day for day, ok in labelled_days(conn, start, end).items() if ok]
        return staging.read(conn, *window_query(start, end, validated), dtypes)


def window_query(start: date, end: date, days: list[date]) -> tuple[sql.Composed, tuple]:
    """The labels observed in [start, end) joined to their features rows in the partitions of `days`:
    both tables are read by their partition key, so only those partitions are scanned."""
    query = sql.SQL(
        """SELECT f.*, l.{label} FROM {labels} l
           JOIN {features} f ON f.data_date = l.{labelled} AND f.{key} = l.{key}
           WHERE l.data_date >= %s AND l.data_date < %s AND f.data_date = ANY(%s::date[])
           ORDER BY f.data_date, f.{key}"""
    ).format(
        label=sql.Identifier(CONTRACT.label),
        labels=sql.Identifier(CONTRACT.labels.table),
        labelled=sql.Identifier(CONTRACT.labelled_date),
        features=sql.Identifier(CONTRACT.features.table),
        key=sql.Identifier(CONTRACT.key),
    )
    return query, (start, end, days)


def held_out_days(days: int) -> int:
    """How many of `days` labelled days are held out (model/window.py)."""
    return window.HOLDOUT_DAYS or max(1, int(days * window.HOLDOUT_FRACTION))


def split(data: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Fit on the earlier days, hold out the latest ones (model/window.py says how many)."""
    days = np.sort(data["data_date"].unique())
    held = held_out_days(len(days))
    if held >= len(days):
        raise NotEnoughData(f"{len(days)} labelled day(s): none left to fit on after a {held}-day holdout")
    cutoff = days[-held]
    return data[data["data_date"] < cutoff], data[data["data_date"] >= cutoff]


def labels(frame: pd.DataFrame) -> np.ndarray:
    return frame[CONTRACT.label].to_numpy(dtype=float)


def fit_estimator(X: pd.DataFrame, y: np.ndarray) -> tuple:
    """The data scientists' estimator fitted on (X, y); when model/estimator.py gives a
    SEARCH_SPACE, the best of a successive-halving random search over it, with time-ordered
    splits (rows come ordered by date) scored by the primary metric. Returns (estimator,
    what the search tried, or None)."""
    from .model import estimator as estimator_module
    from .model import metrics

    if not estimator_module.SEARCH_SPACE:
        return estimator_module.build_estimator().fit(X, y), None
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401  (the API is experimental)
    from sklearn.model_selection import HalvingRandomSearchCV, TimeSeriesSplit

    search = HalvingRandomSearchCV(
        estimator_module.build_estimator(),
        estimator_module.SEARCH_SPACE,
        # Nine candidates at most (fewer if the space holds fewer), halved over rounds whose
        # last one fits on every row: with the defaults, a small space is judged on 6 rows.
        n_candidates=9,
        min_resources="exhaust",
        cv=TimeSeriesSplit(n_splits=3),
        scoring=lambda fitted, X_, y_: metrics.evaluate(y_, model.predict(fitted, X_))[metrics.PRIMARY],
        random_state=0,
    ).fit(X, y)
    tried = pd.DataFrame(search.cv_results_).sort_values("rank_test_score").head(20)
    tuning = {
        "best_params": {k: _plain(v) for k, v in search.best_params_.items()},
        "best_score": _plain(float(search.best_score_)),
        "tried": [
            {
                "params": {k: _plain(v) for k, v in row.params.items()},
                "score": _plain(float(row.mean_test_score)),
                "rows": int(row.n_resources),
            }
            for row in tried.itertuples()
        ],
    }
    return search.best_estimator_, tuning


def _plain(value):
    """A search parameter or score as JSON can hold it (no NaN: PostgreSQL's jsonb refuses it)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value if isinstance(value, (str, int, bool, type(None))) else repr(value)


def train(settings: Settings, interval: Interval, run_id: str) -> dict:
    """Fit and register a candidate; evaluate it and the champion on the same holdout."""
    from .model import metrics

    start, end = window_of(settings, interval)
    data = load_window(settings, start, end)
    if len(data) < window.MIN_ROWS:
        raise NotEnoughData(
            f"{len(data)} labelled rows in [{start}, {end}), need {window.MIN_ROWS} (model/window.py): "
            "check extraction and validation of that window"
        )
    fit, holdout = split(data)
    X_fit = build_features(fit)
    estimator, tuning = fit_estimator(X_fit, labels(fit))
    X_holdout, y_holdout = build_features(holdout), labels(holdout)
    scores = metrics.evaluate(y_holdout, model.predict(estimator, X_holdout))
    version = registry.register(settings, estimator, scores, start, end, len(fit), run_id, tuning)
    monitoring.record_reference(settings, version.version, X_fit)
    champion = registry.champion(settings)
    champion_scores = None
    if champion and champion.version != version.version:
        champion_model = registry.load(settings, champion)
        champion_scores = metrics.evaluate(y_holdout, model.predict(champion_model, X_holdout))
    return {
        "version": version.version,
        "metrics": scores,
        "champion": champion and champion.version,
        "champion_metrics": champion_scores,
    }


def promote(settings: Settings, trained: dict, run_id: str, approval: dict | None = None) -> dict:
    """Apply the data scientist's gate, and a person's decision when one was asked; record it.

    `approval` is the human-in-the-loop task's answer (chosen_options, responded_by_user), when
    the retrain DAG asks for one (PROMOTION_APPROVAL): a rejection is recorded as such.
    """
    from .model import metrics

    if trained["champion"] == trained["version"]:  # a rerun that retrained the same model
        return {"version": trained["version"], "promoted": False, "reason": "already the champion"}
    ok, reason = metrics.gate(trained["metrics"], trained["champion_metrics"])
    if approval is not None and ok and approval.get("chosen_options") != ["Approve"]:
        who = (approval.get("responded_by_user") or {}).get("name") or "a reviewer"
        ok, reason = False, f"rejected by {who}; the gate said: {reason}"
    registry.decide(settings, trained["version"], ok, reason, run_id)
    return {"version": trained["version"], "promoted": ok, "reason": reason}
