"""DATA SCIENTIST OWNED: when a day of hours or the forecast has gone wrong."""

ON_BATCH_BREACH = "fail"
TRAILING_DAYS = 7
ROWS_VS_TRAILING_MEDIAN = (0.9, 1.1)  # a day has 24 hours, no more, no fewer
# One season and one kind of day for all 24 hours of a date: constant on purpose.
CONSTANT_COLUMNS: list[str] = ["season", "workingday"]

ON_MODEL_BREACH = "retrain"
# A day is 24 rows: their PSI over ten bins is about 1 with no drift at all (sampling noise),
# so only a shift far beyond that counts.
PSI_BREACH = 2.5
DRIFT_EXEMPT = ["temp_c"]  # one day's 24 temperatures are a narrow slice of the window's
PERFORMANCE_FLOOR = 0.3  # r2 of a day's 24 forecasts: noisier than the holdout's, so lower than the gate's
