"""Details fetched with their day's breakdown, so a day's details are not one round trip behind the other.

The details transformer must see a day before its breakdown yields the next one (resources.py, `halt`),
so it runs on the extract thread, one day at a time: asked there, every day's details cost a full round
trip, one kind after the other (issue 19: the first nightly's long pole). Instead the breakdown's day
fan-out fetches each day's details right after its breakdown, side by side with the other days in flight,
and the transformer takes the outcome: the rows, or the error met, raised where the request used to be, so
what a failure stops (and where the cursor stands) is unchanged. Details fetched for days after a failure
are dropped unread.
"""

from __future__ import annotations

import threading

import pendulum

from sources.common.fanout import ordered_fanout

from . import settings
from .api import ENDPOINTS, HumblyticsApi
from .parse import Kind, Row, pages_of

Rows = list[Row]


class DetailPrefetch:
    """One kind's details per day, fetched in the breakdown's fan-out worker and taken by the transformer."""

    def __init__(self, api: HumblyticsApi, kind: Kind) -> None:
        self.api, self.kind = api, kind
        self._lock = threading.Lock()
        self._days: dict[pendulum.Date, Rows | Exception] = {}

    def fetch(self, date: pendulum.Date, pages: list[str]) -> Rows:
        """Every page's details of `date`, `DETAIL_WORKERS` at a time (raises what a request raises)."""
        fetched = ordered_fanout(
            lambda page: self.api.details(self.kind, date, page),
            pages,
            workers=settings.DETAIL_WORKERS,
            name=f"humblytics-{ENDPOINTS[self.kind][1].replace('/', '-')}",
        )
        return [row for page_rows in fetched for row in page_rows]

    def breakdown_with_details(self, date: pendulum.Date) -> Rows:
        """The day's breakdown rows (its errors raise as before); its details are kept for `take`."""
        rows = self.api.page_breakdown(self.kind, date)
        pages = pages_of(rows)
        if pages:
            outcome: Rows | Exception
            try:
                outcome = self.fetch(date, pages)
            except Exception as exc:  # handed to the transformer, which meets it where it asked before
                outcome = exc
            with self._lock:
                self._days[date] = outcome
        return rows

    def take(self, date: pendulum.Date, pages: list[str]) -> Rows:
        """The details of `date`: prefetched (an error met then is raised now), else fetched here."""
        with self._lock:
            outcome = self._days.pop(date, None)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome if outcome is not None else self.fetch(date, pages)
