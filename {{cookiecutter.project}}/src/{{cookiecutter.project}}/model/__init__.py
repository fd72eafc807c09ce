"""DATA SCIENTIST OWNED: the model, its features, metrics and promotion gate.

This package is the contract with the pipeline. The pipeline calls only:
  - `features.FEATURES`, `features.build_features(frame)`
  - `estimator.build_estimator()`
  - `metrics.evaluate(y_true, y_pred)`, `metrics.gate(candidate, champion)`
  - `predict(model, X)`
It imports nothing from the warehouse, registry, Airflow or AWS code, so it can be
worked on in a notebook and unit-tested alone (`tests/test_model_contract.py`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

KIND = "{{ cookiecutter.model_kind }}"


def predict(model, X: pd.DataFrame) -> np.ndarray:
    """The score written to the predictions table, one per row of X."""
{%- if cookiecutter.model_kind == "classification" %}
    return model.predict_proba(X)[:, 1]  # probability of the positive class
{%- else %}
    return model.predict(X)
{%- endif %}
