"""The data interval a run covers, and the partition key derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class Interval:
    """Half-open [start, end): the rows whose timestamp falls in it belong to this run.

    The partition key is the day of `start`, the day whose data it is: Airflow's
    data-interval timetables hand a run for day D the interval [D, D+1).
    """

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("interval bounds must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"empty data interval [{self.start}, {self.end})")

    @property
    def partition(self) -> date:
        return self.start.date()

    @classmethod
    def day(cls, day: date) -> Interval:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return cls(start, start + timedelta(days=1))

    @classmethod
    def ending_by(cls, moment: datetime) -> Interval:
        """The day that ends at the last midnight (UTC) at or before `moment`: for runs that an
        asset event started, which have no data interval of their own."""
        return cls.day(moment.astimezone(UTC).date() - timedelta(days=1))

    def days(self) -> list[date]:
        """Each calendar day the interval covers, for stages that work a day at a time."""
        first, n = self.start.date(), (self.end - self.start).days
        return [first + timedelta(days=i) for i in range(max(n, 1))]
