"""DATA SCIENTIST OWNED: which labelled rows a model is fitted and judged on.

The retrain DAG reads these; TRAINING_WINDOW_DAYS in the environment overrides
WINDOW_DAYS for one deployment (the tests use it to keep runs small).
"""

WINDOW_DAYS = 28  # labels observed in the last 28 days before a retrain, with the rows they label
MIN_ROWS = 500  # fewer labelled rows than this in the window: retraining fails, loudly
# The holdout is the latest labelled days, never seen in fitting: a number of days, or
# when HOLDOUT_DAYS is None, this fraction of the window's labelled days (at least one).
HOLDOUT_DAYS: int | None = None
HOLDOUT_FRACTION = 0.25
