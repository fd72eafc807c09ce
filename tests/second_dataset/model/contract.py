"""DATA SCIENTIST OWNED: hourly bike rentals, one row per hour of the day.

Each day's features are the 24 hours' weather and calendar, known in the morning;
the rentals of each hour are counted and arrive the next day.
"""

from ..datasets import Column, Contract, Dataset

CONTRACT = Contract(
    features=Dataset(
        "hours",
        [
            Column("hour", "integer", nullable=False),
            Column("day", "date", nullable=False),
            Column("season", "text", nullable=False),
            Column("workingday", "boolean", nullable=False),
            Column("weather", "integer", nullable=False),
            Column("temp_c", "double precision", nullable=False),
            Column("humidity", "double precision", nullable=False),
            Column("windspeed", "double precision"),  # the sensor drops out now and then
        ],
        date_column="day",
    ),
    labels=Dataset(
        "rentals",
        [
            Column("counted_on", "date", nullable=False),
            Column("for_day", "date", nullable=False),
            Column("hour", "integer", nullable=False),
            Column("rentals", "integer", nullable=False),
        ],
        date_column="counted_on",
    ),
    key="hour",
    label="rentals",
    labelled_date="for_day",
)
