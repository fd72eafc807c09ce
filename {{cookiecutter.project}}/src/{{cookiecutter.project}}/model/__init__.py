"""DATA SCIENTIST OWNED: the data, the model, its features, metrics and promotion gate.

The data scientists' whole area. Adapting the project to other data means editing
these files, in this order (the README's "Adapt to your data" guide has the steps):
  - `contract.py`: the datasets, their columns and types, the key and the label;
  - `expectations.py`: business rules on top of the contract's;
  - `features.py`, `estimator.py`, `metrics.py`: model inputs, the estimator, how
    it is judged and when it may replace the champion;
  - `window.py`: the training window, the minimum rows and the holdout.

The pipeline calls only:
  - `contract.CONTRACT`, `expectations.expectations()`, the constants of `window`
  - `features.FEATURES`, `features.build_features(frame)`
  - `estimator.build_estimator()`, `estimator.SEARCH_SPACE`
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
