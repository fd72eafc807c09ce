"""DATA SCIENTIST OWNED: when the data or the model has gone wrong, and what to do about it.

Checked for every scored date and stored in the warehouse (feature_drift, batch_health,
model_performance, each with a view for analysts). A breach is always recorded and
logged; what else it does is chosen here.
"""

# Batch health, before scoring: a breach fails the run ("fail") or is only recorded ("log").
ON_BATCH_BREACH = "fail"
TRAILING_DAYS = 7  # the batch's row count is compared with the median of this many earlier partitions
ROWS_VS_TRAILING_MEDIAN = (0.5, 3.0)  # a ratio outside these bounds is a breach
# Columns that may legitimately hold one value for a whole partition (the date column always may).
CONSTANT_COLUMNS: list[str] = []

# Drift and performance, after scoring: a breach requests a retrain ("retrain") or is only recorded ("log").
ON_MODEL_BREACH = "retrain"
PSI_BREACH = 0.25  # a model input whose population stability index exceeds this has drifted
# Model inputs whose one-day distribution differs from the training window's by nature (the
# weather of one day against a month's): their PSI is recorded, and never breaches.
DRIFT_EXEMPT: list[str] = []
PERFORMANCE_FLOOR = None  # the primary metric on labelled dates below this breaches; None: the gate's MINIMUM
