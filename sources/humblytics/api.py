"""One property's endpoints, asked for local days: the request, the `meta` check, the rows.

`HumblyticsApi` is shared by the source's resources for one run. It remembers two things the vendor
tells us along the way:
- how it reads `end` (ranges.py): the run's first request goes out alone and its `meta` says; an answer
  whose data covers other days than asked is asked again once with that reading;
- the first 401/403: keys are property-scoped and the permission is per key (the document,
  Authentication), so one refusal answers every endpoint; later calls raise `Refused` without a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pendulum

from sources.common.client import ApiClient
from sources.common.errors import AuthError, ResponseFormatError
from sources.common.redaction import redact_url
from sources.common.windows import DateWindow

from . import settings
from .parse import (
    CLICKS,
    FORMS,
    Kind,
    Row,
    data_of,
    parse_details,
    parse_meta,
    parse_page_breakdown,
    parse_traffic_breakdown,
    parse_trends,
)
from .ranges import (
    Coverage,
    EndReading,
    MetaMismatch,
    check_meta,
    end_day,
    is_expected_extra,
    range_params,
    reading_of,
    split_buckets,
)

logger = logging.getLogger(__name__)
# (breakdown, details) endpoints of each kind.
ENDPOINTS = {
    CLICKS: (settings.CLICKS_BREAKDOWN, settings.CLICKS_DETAILS),
    FORMS: (settings.FORMS_BREAKDOWN, settings.FORMS_DETAILS),
}


class Refused(Exception):
    """Raised instead of a request once the vendor refused this run's key: the resource that met the
    refusal recorded it (keep_until_failure); the others end quietly so the run reports it once."""

    def __init__(self, refusal: AuthError) -> None:
        super().__init__(str(refusal))
        self.refusal = refusal


@dataclass(frozen=True)
class Answer:
    payload: Any
    reading: EndReading | None  # how the vendor read `end`, when the meta says


@dataclass(frozen=True)
class TrendAnswer:
    rows: list[Row]  # buckets that start on an asked day, with `date`
    unexpected: list[Row]  # buckets outside the asked days other than EXCLUSIVE's empty trailing bucket
    reading: EndReading | None


class HumblyticsApi:
    """Thread-safe: the resources of one run call it from several threads."""

    def __init__(self, client: ApiClient, *, property_id: str, timezone: str, limit: int) -> None:
        self.client = client
        self.property_id = property_id
        self.timezone = timezone
        self.limit = limit
        self._base = f"/properties/{quote(property_id, safe='')}/"
        self._reading: EndReading | None = None
        self._probed = threading.Event()
        self._probe_lock = threading.Lock()
        self._lock = threading.Lock()
        self._refused: AuthError | None = None

    @property
    def reading(self) -> EndReading | None:
        return self._reading

    # --- endpoints --------------------------------------------------------------------------------

    def trends(self, days: DateWindow) -> TrendAnswer:
        """traffic/trends daily buckets of `days` (one request; `fetch_with_split` narrows on a 400)."""
        answer = self._get(settings.TRAFFIC_TRENDS, days, aggregate=False)
        buckets = split_buckets(parse_trends(data_of(answer.payload)), days, self.timezone)
        unexpected = [row for row in buckets.outside if not is_expected_extra(row, days, self.timezone, answer.reading)]
        return TrendAnswer(buckets.kept, unexpected, answer.reading)

    def traffic_breakdown(self, day: pendulum.Date) -> list[Row]:
        answer = self._get(settings.TRAFFIC_BREAKDOWN, DateWindow(day, day), aggregate=True)
        return _dated(day, parse_traffic_breakdown(data_of(answer.payload), self.limit))

    def page_breakdown(self, kind: Kind, day: pendulum.Date) -> list[Row]:
        endpoint = ENDPOINTS[kind][0]
        answer = self._get(endpoint, DateWindow(day, day), aggregate=True)
        return _dated(day, parse_page_breakdown(data_of(answer.payload), kind, self.limit))

    def details(self, kind: Kind, day: pendulum.Date, page: str) -> list[Row]:
        endpoint = ENDPOINTS[kind][1]
        answer = self._get(endpoint, DateWindow(day, day), aggregate=True, extra={"page": page})
        return _dated(day, parse_details(data_of(answer.payload), kind, page, self.limit))

    # --- one verified answer ------------------------------------------------------------------------

    def _get(
        self, endpoint: str, days: DateWindow, *, aggregate: bool, extra: Mapping[str, str] | None = None
    ) -> Answer:
        """The answer for exactly `days`. `aggregate`: the data sums the whole range (no buckets to drop),
        so an answer covering more days than asked is asked again; a bucketed one is filtered instead."""
        if not self._probed.is_set():
            with self._probe_lock:
                if not self._probed.is_set():
                    answer = self._answer(endpoint, days, aggregate, extra)
                    self._probed.set()
                    return answer
        return self._answer(endpoint, days, aggregate, extra)

    def _answer(self, endpoint: str, days: DateWindow, aggregate: bool, extra: Mapping[str, str] | None) -> Answer:
        first = self._ask(endpoint, days, self._reading, extra)
        if _fits(first.coverage, days, aggregate):
            return Answer(first.payload, first.reading)
        # It covers fewer days than asked, or (an aggregate) more: ask again with the reading just learned.
        second = self._ask(endpoint, days, self._reading, extra)
        if not _fits(second.coverage, days, aggregate):
            raise self._format_error(
                endpoint,
                second.url,
                f"answered {days} with data through {second.coverage.last} under either reading of `end`",
            )
        return Answer(second.payload, second.reading)

    def _ask(
        self, endpoint: str, days: DateWindow, reading: EndReading | None, extra: Mapping[str, str] | None
    ) -> _Asked:
        granularity = settings.TREND_GRANULARITY if endpoint in settings.WITH_GRANULARITY else None
        params: dict[str, str] = {**range_params(days, reading), "timezone": self.timezone}
        if granularity is not None:
            params["granularity"] = granularity
        if endpoint in settings.WITH_LIMIT:
            params["limit"] = str(self.limit)
        params.update(extra or {})
        response, payload = self._send(endpoint, params)
        url = redact_url(response.request.url)
        sent_end = end_day(days.end, reading)
        try:
            covered = check_meta(
                parse_meta(payload),
                property_id=self.property_id,
                timezone=self.timezone,
                granularity=granularity,
                days=days,
                sent_end=sent_end,
            )
        except MetaMismatch as exc:
            raise self._format_error(endpoint, url, f"answered for other days than asked ({exc})") from None
        revealed = reading_of(sent_end, covered.last) if covered.last is not None else None
        if revealed is not None:
            self._learn(revealed, endpoint, covered)
        return _Asked(payload, covered, revealed, url)

    def _send(self, endpoint: str, params: Mapping[str, str]) -> tuple[httpx.Response, Any]:
        """The query is encoded here: the document wants `page` percent-encoded (`/pricing page` →
        `%2Fpricing%20page`), where httpx would send a space as `+`."""
        with self._lock:
            refused = self._refused
        if refused is not None:
            raise Refused(refused)
        path = f"{self._base}{endpoint}?{urlencode(params, quote_via=quote)}"
        try:
            return self.client.request_decoded("GET", path, endpoint=endpoint)
        except AuthError as exc:
            with self._lock:
                self._refused = self._refused or exc
            raise

    def _learn(self, reading: EndReading, endpoint: str, covered: Coverage) -> None:
        with self._lock:
            before, self._reading = self._reading, reading
        if before is None:
            logger.info("humblytics %s: data ends on %s: `end` is read %s", endpoint, covered.last, reading)
        elif before is not reading:
            logger.warning("humblytics %s: the reading of `end` changed from %s to %s", endpoint, before, reading)

    def _format_error(self, endpoint: str, url: str, what: str) -> ResponseFormatError:
        return ResponseFormatError(
            f"humblytics {endpoint} {what}: nothing of it is loaded; report it to Humblytics with the URL.",
            vendor=settings.VENDOR,
            endpoint=endpoint,
            url=url,
        )


@dataclass(frozen=True)
class _Asked:
    payload: Any
    coverage: Coverage
    reading: EndReading | None
    url: str


def _fits(covered: Coverage, days: DateWindow, aggregate: bool) -> bool:
    """Usable as the answer for `days`: the meta does not say, or it ends on the last asked day, or (a
    bucketed answer) after it, since buckets past it are dropped."""
    last = covered.last
    return last is None or last == days.end or (last > days.end and not aggregate)


def _dated(day: pendulum.Date, rows: list[Row]) -> list[Row]:
    return [{"date": day, **row} for row in rows]
