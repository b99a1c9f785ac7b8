"""The processing time of a run: the system clock, or a fixed day for reproducible runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True, slots=True)
class Clock:
    """The processing time: the system clock, or a fixed day (noon) for reproducible runs."""

    fixed_day: date | None = None

    def now(self) -> datetime:
        if self.fixed_day is not None:
            return datetime.combine(self.fixed_day, datetime.min.time()).replace(hour=12)
        return datetime.now()

    def today(self) -> date:
        return self.now().date()
