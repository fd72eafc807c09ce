"""Features: which staged columns the model sees, and what is derived from them."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = ["tenure_months", "monthly_spend", "support_tickets", "last_login_days", "spend_per_tenure"]
CATEGORICAL = ["plan"]
FEATURES = NUMERIC + CATEGORICAL


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Model inputs from staged snapshot rows (one row per entity)."""
    X = pd.DataFrame(index=frame.index)
    for column in ("tenure_months", "monthly_spend", "support_tickets", "last_login_days"):
        X[column] = frame[column].astype("float64")
    # Spend relative to tenure separates new big spenders from long-time small ones.
    X["spend_per_tenure"] = X["monthly_spend"] / np.maximum(X["tenure_months"], 1.0)
    X["plan"] = frame["plan"].astype("string").astype(object)
    return X[FEATURES]
