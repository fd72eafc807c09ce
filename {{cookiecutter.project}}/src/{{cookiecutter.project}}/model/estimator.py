"""The estimator: a scikit-learn Pipeline, so preprocessing ships inside the artifact."""

from __future__ import annotations

from sklearn.compose import ColumnTransformer
{%- if cookiecutter.model_kind == "classification" %}
from sklearn.linear_model import LogisticRegression
{%- else %}
from sklearn.linear_model import Ridge
{%- endif %}
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from .features import CATEGORICAL, NUMERIC

RANDOM_STATE = 0
# Hyperparameters to search at each retrain, as HalvingRandomSearchCV's param_distributions
# (names of the Pipeline's steps: "model__C", "preprocess__numeric__with_mean", ...).
# Empty: the estimator as built below is fitted as it is. The search's results go into
# the training report.
SEARCH_SPACE: dict = {}


def build_estimator() -> Pipeline:
    preprocess = ColumnTransformer(
        [
            ("numeric", StandardScaler(), NUMERIC),
            # Plans added later must not break scoring: unknown categories encode as zeros.
            ("categorical", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
        ]
    )
{%- if cookiecutter.model_kind == "classification" %}
    model = LogisticRegression(max_iter=1000, random_state=RANDOM_STATE)
{%- else %}
    model = Ridge(alpha=1.0)
{%- endif %}
    return Pipeline([("preprocess", preprocess), ("model", model)])
