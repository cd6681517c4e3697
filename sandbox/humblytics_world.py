"""What the Humblytics tracker saw on the simulated site: one ``Visit`` per session of the shared world.

Visits reuse ``sessions_world`` (same people, same channels, same conversions as AttributionHub) and add
what only a page tracker records: pageviews, country, device, referrer, raw UTM values, clicks and form
submissions, seeded per (property, day). Every event carries the session's start instant, so aggregating
hours into days, weeks or months in any timezone gives consistent totals.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from sandbox.core import SandboxConfig, rng
from sandbox.sessions_world import CHANNELS, before_now, day_of, day_sessions, history_bounds

UNKNOWN = "unknown"  # "Null or missing values are returned as "unknown"" (Humblytics document, breakdown)
_UTM = {(medium, source): (utm_source, utm_medium) for medium, source, utm_source, utm_medium, *_ in CHANNELS}
_COUNTRIES = ("US", "GB", "DE", "IN", "CA", "FR", "BR", "")
_COUNTRY_WEIGHTS = (40, 12, 10, 9, 7, 6, 5, 11)
_DEVICES = ("desktop", "mobile", "")  # normalized desktop|mobile|unknown (Humblytics document, breakdown)
_DEVICE_WEIGHTS = (55, 38, 7)
_NO_REFERRER_MEDIA = ("(none)", "email")  # direct visits and mail clients send no referrer
CLICK_TARGETS = {
    "/": ("cta: Book a demo", "nav: Pricing", "hero: Watch video"),
    "/pricing/": ("Start free trial", "Contact sales", "#faq-toggle", "toggle: annual billing"),
    "/features/": ("cta: Book a demo", "tab: Integrations"),
    "/request-a-demo/": ("button: Submit",),
    "/contact us/": ("button: Send", "link: mailto:sales@example.com"),
    "/blog/attribution-101/": ("link: utm guide", "cta: Newsletter"),
}
_CLICK_PAGES = tuple(CLICK_TARGETS)
_FORM_TYPES = ("hubspot_form", "html_form")


@dataclass(frozen=True, slots=True)
class Visit:
    session: tuple[int, int]  # the shared world's session key; unique_* metrics count distinct sessions
    visitor: int
    at: int  # epoch seconds of the session start
    pageviews: int
    country: str  # "" = not resolved
    device: str
    landing_page: str  # a path, as Humblytics reports pages
    referrer: str
    utm_source: str
    utm_medium: str
    utm_campaign: str
    clicks: tuple[tuple[str, str], ...]  # (page path, target)
    forms: tuple[tuple[str, str], ...]  # (page path, form id)


def page_path(url: str) -> str:
    return urlsplit(url).path or "/"


@lru_cache(maxsize=4096)
def day_visits(seed: int, prop: str, sessions_per_day: int, late_days: int, day: int) -> tuple[Visit, ...]:
    """The visits of one UTC day, in session order."""
    r = rng(seed, "humblytics", prop, day)
    visits = []
    for s in day_sessions(seed, sessions_per_day, late_days, day):
        utm_source, utm_medium = _UTM[(s.medium, s.source)]
        landing = page_path(s.landing_page)
        clicks = [
            (page, r.choice(CLICK_TARGETS[page]))
            for page in (r.choice((landing, *_CLICK_PAGES)) for _ in range(r.choice((0, 0, 1, 1, 2, 3))))
            if page in CLICK_TARGETS
        ]
        forms = tuple((page_path(c.page), c.meta_id) for c in s.conversions if c.meta_type in _FORM_TYPES)
        visits.append(
            Visit(
                session=s.key,
                visitor=s.user_id,
                at=s.start,
                pageviews=1 + int(r.expovariate(0.5)),
                country=r.choices(_COUNTRIES, weights=_COUNTRY_WEIGHTS)[0],
                device=r.choices(_DEVICES, weights=_DEVICE_WEIGHTS)[0],
                landing_page=landing,
                referrer="" if s.medium in _NO_REFERRER_MEDIA else s.source,
                utm_source=utm_source,
                utm_medium=utm_medium,
                utm_campaign=s.campaign,
                clicks=tuple(clicks),
                forms=forms,
            )
        )
    return tuple(visits)


def visits_between(config: SandboxConfig, start: int, end: int) -> list[Visit]:
    """Visits with ``start <= at < end`` that exist at ``config.today`` (nothing from today on; with
    ``today_partial``, today's visits before simulated now)."""
    lo, hi = history_bounds(config)
    end = min(end, before_now(config)) if config.today_partial else end
    out: list[Visit] = []
    args = (config.seed, config.humblytics_property, config.sessions_per_day, config.late_conversion_days)
    for day in range(max(day_of(start), lo), min(day_of(end - 1), hi) + 1):
        out.extend(v for v in day_visits(*args, day) if start <= v.at < end)
    return out


class Buckets:
    """Bucket starts (epoch seconds, ascending) and the bucket index of an instant."""

    def __init__(self, starts: list[int]) -> None:
        self.starts = starts

    def index(self, at: int) -> int:
        return bisect_right(self.starts, at) - 1


def trend(buckets: Buckets, events: Iterable[tuple[int, tuple[int, int]]], what: str) -> list[dict[str, Any]]:
    """Zero-filled per-bucket ``what`` and ``unique_what`` (distinct sessions) from (instant, session)."""
    counts = [0] * len(buckets.starts)
    uniques: list[set[tuple[int, int]]] = [set() for _ in buckets.starts]
    for at, session in events:
        i = buckets.index(at)
        counts[i] += 1
        uniques[i].add(session)
    return [
        {"bucket": b, what: counts[i], f"unique_{what}": len(uniques[i])} for i, b in enumerate(format_buckets(buckets))
    ]


def traffic_trend(buckets: Buckets, visits: list[Visit]) -> list[dict[str, Any]]:
    pageviews = [0] * len(buckets.starts)
    visitors: list[set[int]] = [set() for _ in buckets.starts]
    for v in visits:
        i = buckets.index(v.at)
        pageviews[i] += v.pageviews
        visitors[i].add(v.visitor)
    return [
        {"bucket": b, "pageviews": pageviews[i], "unique_visitors": len(visitors[i])}
        for i, b in enumerate(format_buckets(buckets))
    ]


def _top(counter: Counter[str], limit: int) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]


def segments(visits: list[Visit], limit: int) -> dict[str, list[dict[str, Any]]]:
    """traffic/breakdown ``data``: top rows per segment; ``share`` = fraction of all sessions."""
    total = len(visits)

    def rows(values: Iterable[str]) -> list[dict[str, Any]]:
        top = _top(Counter(v or UNKNOWN for v in values), limit)
        return [{"value": k, "sessions": n, "share": round(n / total, 4)} for k, n in top]

    utm = Counter((v.utm_source or UNKNOWN, v.utm_medium or UNKNOWN, v.utm_campaign or UNKNOWN) for v in visits)
    utm_top = sorted(utm.items(), key=lambda kv: (-kv[1], kv[0]))[:limit]
    return {
        "utm": [
            {"source": s, "medium": m, "campaign": c, "sessions": n, "share": round(n / total, 4)}
            for (s, m, c), n in utm_top
        ],
        "countries": rows(v.country for v in visits),
        "devices": rows(v.device for v in visits),
        "landing_pages": rows(v.landing_page for v in visits),
        "referrers": rows(v.referrer for v in visits),
    }


SessionKey = tuple[int, int]


def per_page(events: list[tuple[str, str, SessionKey]], limit: int, kind: str, item: str) -> list[dict]:
    """Breakdown ``pages``: pages by ``kind`` desc, each with its top ``item`` rows (limit caps both)."""
    by_page: dict[str, list[tuple[str, SessionKey]]] = defaultdict(list)
    for page, target, session in events:
        by_page[page].append((target, session))
    pages = _top(Counter({p: len(e) for p, e in by_page.items()}), limit)
    return [
        {
            "page": page,
            kind: count,
            f"unique_{kind}": len({s for _, s in by_page[page]}),
            f"{item}s": items(by_page[page], limit, kind, item, share=False),
        }
        for page, count in pages
    ]


def items(events: list[tuple[str, tuple[int, int]]], limit: int, kind: str, item: str, *, share: bool) -> list:
    """Top targets/forms of one page; ``share`` = proportion of the page's events (details endpoints)."""
    sessions: dict[str, set[tuple[int, int]]] = defaultdict(set)
    counts: Counter[str] = Counter()
    for name, session in events:
        counts[name] += 1
        sessions[name].add(session)
    total = len(events)
    rows = []
    for name, n in _top(counts, limit):
        row: dict[str, Any] = {item: name, kind: n, f"unique_{kind}": len(sessions[name])}
        if share:
            row["share"] = round(n / total, 4)
        rows.append(row)
    return rows


def format_instant(epoch_ms: int) -> str:
    """ISO-8601 UTC instant with milliseconds, like the published sample ("2024-05-01T04:00:00.000Z")."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


def format_buckets(buckets: Buckets) -> list[str]:
    return [format_instant(b * 1000) for b in buckets.starts]
