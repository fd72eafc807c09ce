"""DATA SCIENTIST OWNED: gradient boosting, which takes the missing windspeed as it is."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from .features import CATEGORICAL, NUMERIC

RANDOM_STATE = 0
# Searched at each retrain (HalvingRandomSearchCV over time-ordered splits).
SEARCH_SPACE = {"model__learning_rate": [0.05, 0.1], "model__max_leaf_nodes": [15, 31]}


def build_estimator() -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numeric", "passthrough", NUMERIC),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
        ]
    )
    model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.1, random_state=RANDOM_STATE)
    return Pipeline([("preprocess", preprocess), ("model", model)])
