"""DATA SCIENTIST OWNED: how rental forecasts are judged, and when one replaces the champion."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mean_absolute_error, r2_score, root_mean_squared_error

PRIMARY = "r2"  # higher is better
MINIMUM = 0.50  # a forecast explaining less than half the variance is never promoted
MIN_GAIN = 0.01  # a challenger must beat the champion by this much
TOLERANCE = {PRIMARY: 0.02}  # `make evaluate`: how far r2 may fall below its baseline


def evaluate(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {
        "r2": float(r2_score(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rows": int(len(y_true)),
    }


def gate(candidate: dict[str, float], champion: dict[str, float] | None) -> tuple[bool, str]:
    score = candidate[PRIMARY]
    if score < MINIMUM:
        return False, f"{PRIMARY}={score:.4f} is below the minimum {MINIMUM}"
    if champion is None:
        return True, f"first model: {PRIMARY}={score:.4f} meets the minimum {MINIMUM}"
    best = champion[PRIMARY]
    if score >= best + MIN_GAIN:
        return True, f"{PRIMARY}={score:.4f} vs champion {best:.4f} (required gain {MIN_GAIN})"
    return False, f"{PRIMARY}={score:.4f} does not beat champion {best:.4f} + {MIN_GAIN}"
