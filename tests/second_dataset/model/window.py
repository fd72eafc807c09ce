"""DATA SCIENTIST OWNED: four weeks of hours to learn from, the last week held out."""

WINDOW_DAYS = 28
MIN_ROWS = 24 * 14  # two weeks of hours at least
HOLDOUT_DAYS: int | None = 7
HOLDOUT_FRACTION = 0.25  # used only when HOLDOUT_DAYS is None
