"""DATA SCIENTIST OWNED: the hour as a cycle, the weather, the calendar."""

from __future__ import annotations

import numpy as np
import pandas as pd

NUMERIC = ["hour_sin", "hour_cos", "workingday", "weather", "temp_c", "humidity", "windspeed"]
CATEGORICAL = ["season", "hour"]
FEATURES = NUMERIC + CATEGORICAL


def build_features(frame: pd.DataFrame) -> pd.DataFrame:
    X = pd.DataFrame(index=frame.index)
    angle = 2 * np.pi * frame["hour"].astype("float64") / 24
    X["hour_sin"], X["hour_cos"] = np.sin(angle), np.cos(angle)
    X["workingday"] = frame["workingday"].astype("float64")
    for column in ("weather", "temp_c", "humidity", "windspeed"):
        X[column] = frame[column].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    X["season"] = frame["season"].astype("string").astype(object)
    X["hour"] = frame["hour"].astype("int64").astype(str).astype(object)  # rush hours are their own
    return X[FEATURES]
