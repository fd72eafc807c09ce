"""Metrics and the promotion gate: when a new model may replace the champion."""

from __future__ import annotations

import numpy as np
{%- if cookiecutter.model_kind == "classification" %}
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

PRIMARY = "roc_auc"  # higher is better
MINIMUM = 0.60  # a model below this is never promoted, not even as the first one
MIN_GAIN = 0.0  # a challenger must be at least this much better than the champion


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true).astype(int)
    if len(np.unique(y_true)) < 2:
        raise ValueError("holdout has a single class: metrics are undefined")
    return {
        "roc_auc": float(roc_auc_score(y_true, y_pred)),
        "average_precision": float(average_precision_score(y_true, y_pred)),
        "brier": float(brier_score_loss(y_true, y_pred)),
        "positive_rate": float(y_true.mean()),
        "rows": int(len(y_true)),
    }
{%- else %}
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

PRIMARY = "r2"  # higher is better
MINIMUM = 0.10  # a model below this is never promoted, not even as the first one
MIN_GAIN = 0.0  # a challenger must be at least this much better than the champion


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rows": int(len(y_true)),
    }
{%- endif %}


# `make evaluate`: how far each metric may fall below its committed baseline
# (model/evaluation_baseline.json) on the frozen sample before CI fails. Higher is better
# for every metric listed here.
TOLERANCE = {PRIMARY: 0.02}


def gate(candidate: dict[str, float], champion: dict[str, float] | None) -> tuple[bool, str]:
    """Whether the candidate should become champion, and why, in words for the audit log."""
    score = candidate[PRIMARY]
    if score < MINIMUM:
        return False, f"{PRIMARY}={score:.4f} is below the minimum {MINIMUM}"
    if champion is None:
        return True, f"first model: {PRIMARY}={score:.4f} meets the minimum {MINIMUM}"
    best = champion[PRIMARY]
    if score >= best + MIN_GAIN:
        return True, f"{PRIMARY}={score:.4f} vs champion {best:.4f} (required gain {MIN_GAIN})"
    return False, f"{PRIMARY}={score:.4f} does not beat champion {best:.4f} + {MIN_GAIN}"
