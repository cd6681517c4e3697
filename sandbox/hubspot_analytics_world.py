"""The numbers behind the simulated HubSpot Analytics API (reporting v2).

Consistency by construction: each day gets one vector of final counts (shared by every report, since all
reports partition the same traffic), the restatement factor shrinks it for recent days, and it is then split
top-down — day → breakdowns → d1 children → d2 children — with integer largest-remainder splits. So a day's
total equals the sum of its breakdowns, d1 rows sum to their parent breakdown, and any period's numbers are
the sums of its days. Ratios (bounceRate, ...) are always computed from counts, never generated.

Restatement (facts.md: recent days are restated for a few days): as seen on simulated today T, a day with
``age = T - day`` in ``1..restate_days`` shows ``floor(final * factor(age))`` with factor 0.70 at age 1 rising
evenly to 0.95 at age ``restate_days`` (defaults: 0.70, 0.825, 0.95); from age ``restate_days + 1`` the
numbers are final and never change. Today (age 0) and the future have no data; neither do days before the
world start. Split weights do not depend on T, so a restated day is as consistent as a settled one.

Hardening (``SandboxConfig``): with ``restate_can_drop`` about one day in three overshoots — 92% at age 1,
then above its final numbers (108%, 104% with 3 restated days) — and comes *down* to them; with
``today_partial`` today shows 60% of its final numbers times the share of the day elapsed at simulated now
(it grows while a run pages); with ``hubspot_large_report_values`` the ``blog-posts`` and ``pages`` reports
have that many values (more than one ``total`` page of 350). Scales are in per mille of the final counts.
"""

from __future__ import annotations

from functools import lru_cache

from sandbox.core import rng, stable_hex

# Hidden counts (bounces, sessionSeconds, newVisitorSessions) exist so the ratios can be computed and summed.
COUNTS = (
    "rawViews",
    "visits",
    "visitors",
    "submissions",
    "leads",
    "contacts",
    "subscribers",
    "marketingQualifiedLeads",
    "salesQualifiedLeads",
    "opportunities",
    "customers",
    "bounces",
    "sessionSeconds",
    "newVisitorSessions",
)
PUBLIC_COUNTS = COUNTS[:11]
RAW, VISITS, VISITORS, SUBMISSIONS, LEADS, CONTACTS = 0, 1, 2, 3, 4, 5
CUSTOMERS, BOUNCES, SECONDS, NEW_SESSIONS = 10, 11, 12, 13
TRAFFIC = (RAW, VISITS, VISITORS, BOUNCES, SECONDS, NEW_SESSIONS)  # split by traffic weights
LIFECYCLE = (SUBMISSIONS, LEADS, CONTACTS, 6, 7, 8, 9, CUSTOMERS)  # split by lifecycle weights
ZERO = (0,) * len(COUNTS)
Counts = tuple[int, ...]

# The source types of the sources report (facts.md / hubspot-analytics-api.txt example breakdowns).
SOURCES = ("direct", "organic", "paid", "referrals", "social", "email", "other", "offline")
ENGINES = ("google", "bing", "yahoo", "duckduckgo", "ecosia")
COUNTRIES = ("us", "gb", "de", "fr", "ca", "au", "in", "br", "nl", "es", "se", "jp", "mx", "it", "pl")
KEYWORDS = ("marketing analytics", "elt pipeline", "hubspot reporting", "attribution model", "lead scoring")
_SOURCE_CHILDREN = {
    "organic": (*KEYWORDS, "crm integration", "utm builder", "data warehouse"),  # d1=organic → keywords
    "paid": ("brand-search", "competitor-kw", "retargeting", "spring_sale", "webinar-promo"),  # campaigns
    "referrals": ("g2.com", "capterra.com", "news.ycombinator.com", "reddit.com", "partner.example.org"),
    "social": ("linkedin", "facebook", "twitter", "youtube", "instagram"),
    "email": ("weekly-digest", "product-launch", "onboarding-3", "re-engagement"),
    "other": ("qr-code", "podcast", "print"),
    "direct": ("https://www.example.com/", "https://www.example.com/pricing", "https://www.example.com/blog"),
    "offline": ("imports", "crm-sync", "api", "sales-activity"),
}
_D2_UNDER = {"organic", "paid"}  # d2 under these is a keyword/campaign → search engines

BREAKDOWN_BY = (
    "totals",
    "sessions",
    "sources",
    "geolocation",
    "utm-campaigns",
    "utm-contents",
    "utm-mediums",
    "utm-sources",
    "utm-terms",
)
OBJECT_TYPES = ("event-completions", "forms", "pages", "social-assists")
CONTENT_TYPES = ("landing-pages", "standard-pages", "blog-posts", "listing-pages", "knowledge-articles")
REPORTS = BREAKDOWN_BY + OBJECT_TYPES + CONTENT_TYPES

_STATIC_VALUES: dict[str, tuple[str, ...]] = {
    "totals": (),
    "sessions": ("desktop", "mobile", "tablet", "other"),
    "sources": SOURCES,
    "geolocation": COUNTRIES,
    "utm-campaigns": ("spring_sale", "webinar-2026", "brand", "retargeting", "newsletter", "launch-q4"),
    "utm-contents": ("hero-cta", "sidebar", "footer-link", "banner-a", "banner-b"),
    "utm-mediums": ("cpc", "email", "social", "referral", "display"),
    "utm-sources": ("google", "linkedin", "facebook", "newsletter", "bing", "twitter"),
    "utm-terms": KEYWORDS,
}
_URL_PREFIX = {
    "pages": "https://www.example.com/",
    "landing-pages": "https://www.example.com/lp/",
    "standard-pages": "https://www.example.com/",
    "blog-posts": "https://www.example.com/blog/",
    "listing-pages": "https://www.example.com/blog/tag/",
    "knowledge-articles": "https://help.example.com/kb/",
    "social-assists": "https://www.linkedin.com/feed/update/urn:li:activity:",
}
_OBJECT_COUNTS = {
    "event-completions": 8,
    "forms": 6,
    "pages": 12,
    "social-assists": 5,
    "landing-pages": 8,
    "standard-pages": 10,
    "blog-posts": 12,
    "listing-pages": 4,
    "knowledge-articles": 6,
}


def supports_drilldown(report: str) -> bool:
    """d1/d2 apply to the breakdown_by family (facts.md), except ``totals`` which has no breakdown."""
    return report in BREAKDOWN_BY and report != "totals"


@lru_cache(maxsize=256)
def children(seed: int, report: str, path: tuple[str, ...], large: int | None = None) -> tuple[str, ...]:
    """The breakdown values under ``path`` (() = top level, (d1,) or (d1, d2)); () when there is none.

    ``large``: how many values the ``LARGE_REPORTS`` have (``hubspot_large_report_values``; None = their usual
    dozen)."""
    if not path:
        if report in _STATIC_VALUES:
            return _STATIC_VALUES[report]
        n = large if large and report in LARGE_REPORTS else _OBJECT_COUNTS[report]
        if report == "forms":  # form guids (hubspot-leads-api.txt shows formGuid as 32 hex)
            return tuple(stable_hex(seed, "form", i) for i in range(n))
        if report == "event-completions":  # event ids are numeric strings
            return tuple(str(100_000 + rng(seed, "event", i).randrange(900_000)) for i in range(n))
        slugs = ("pricing", "features", "demo", "about", "contact", "docs", "careers", "security")
        return tuple(
            f"{_URL_PREFIX[report]}{slugs[i % len(slugs)]}-{i}"
            if report != "social-assists"
            else f"{_URL_PREFIX[report]}{7_000_000_000 + i}"
            for i in range(n)
        )
    top = children(seed, report, ())
    if path[0] not in top or not supports_drilldown(report):
        return ()
    if len(path) == 1:
        if report == "sources":
            return _SOURCE_CHILDREN[path[0]]
        if report == "geolocation":
            return tuple(f"{path[0]}-region-{k}" for k in range(1, 6))
        if report.startswith("utm-"):
            return SOURCES  # a utm value broken down by source type
        return ()
    if len(path) == 2 and report == "sources" and path[0] in _D2_UNDER and path[1] in _SOURCE_CHILDREN[path[0]]:
        return ENGINES  # d2=<keyword or campaign> → which search engine
    return ()


LARGE_REPORTS = ("blog-posts", "pages")  # the reports `hubspot_large_report_values` enlarges
TODAY_PERMILLE = 600  # today, once the whole day has elapsed (it never has: simulated now is within today)


def restatement_percent(age: int, restate_days: int) -> int:
    """Percent of the final counts visible at ``age`` days (see the module docstring)."""
    if age > restate_days or restate_days <= 0:
        return 100
    return round(70 + 25 * (age - 1) / max(restate_days - 1, 1))


def overshoots(seed: int, day: int) -> bool:
    """Whether ``day`` is restated above its final numbers before settling (``restate_can_drop``)."""
    return rng(seed, "hs-overshoot", day).random() < 1 / 3


def restatement_permille(
    seed: int, day: int, age: int, restate_days: int, *, can_drop: bool = False, elapsed: float = 0.0
) -> int:
    """Per mille of the final counts visible at ``age`` days; ``elapsed``: the share of today gone (age 0)."""
    if age <= 0:
        return int(TODAY_PERMILLE * elapsed) if age == 0 else 0
    if age > restate_days or restate_days <= 0:
        return 1000
    if can_drop and overshoots(seed, day):
        return 920 if age == 1 else 1000 + 40 * (restate_days - age + 1)
    return 10 * restatement_percent(age, restate_days)


@lru_cache(maxsize=8192)
def day_final(seed: int, sessions_per_day: int, day: int) -> Counts:
    """The settled counts of one day (ordinal), shared by every report."""
    r = rng(seed, "hs-day", day)
    weekday = day % 7  # ordinal 1 = Monday; weekends (5, 6) are quieter
    visits = max(1, round(sessions_per_day * (0.6 if weekday in (5, 6) else 1.0) * r.uniform(0.8, 1.2)))
    contacts = round(visits * r.uniform(0.02, 0.06))
    leads = round(contacts * r.uniform(0.3, 0.7))
    mql = round(leads * r.uniform(0.2, 0.5))
    sql = round(mql * r.uniform(0.3, 0.7))
    opportunities = round(sql * r.uniform(0.3, 0.8))
    return (
        round(visits * r.uniform(1.5, 3.0)),
        visits,
        round(visits * r.uniform(0.6, 0.9)),
        round(visits * r.uniform(0.02, 0.08)),
        leads,
        contacts,
        round(contacts * r.uniform(0.2, 0.5)),
        mql,
        sql,
        opportunities,
        round(opportunities * r.uniform(0.1, 0.4)),
        round(visits * r.uniform(0.4, 0.7)),
        round(visits * r.uniform(60, 300)),
        round(visits * r.uniform(0.3, 0.7)),
    )


@lru_cache(maxsize=65536)
def _weights(
    seed: int, report: str, day: int, path: tuple[str, ...], large: int | None = None
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Traffic and lifecycle split weights of ``path``'s children on ``day``; independent of today."""
    kids = children(seed, report, path, large)
    r = rng(seed, "hs-weights", report, day, path)
    traffic: list[float] = []
    lifecycle: list[float] = []
    for i, kid in enumerate(kids):
        base = 1.0 / (1 + i) ** 0.8  # earlier values are the big ones, like a real long tail
        active = r.random() > 0.12  # some values have no data on some days
        t = base * r.uniform(0.5, 1.5) if active else 0.0
        life = base * r.uniform(0.3, 1.7) if active and r.random() > 0.3 else 0.0
        if kid == "offline":  # offline sources bring contacts but no web traffic (the document's example)
            t, life = 0.0, base * r.uniform(0.5, 1.5)
        traffic.append(t)
        lifecycle.append(life)
    if kids and not any(traffic):
        traffic[0] = 1.0  # never lose a parent's counts
    if kids and not any(lifecycle):
        lifecycle[-1] = 1.0
    return tuple(traffic), tuple(lifecycle)


def _split(n: int, weights: tuple[float, ...], total: float) -> list[int]:
    """Split ``n`` into integer parts proportional to ``weights`` that sum to exactly ``n``."""
    if n == 0:
        return [0] * len(weights)
    raw = [n * w / total for w in weights]
    parts = [int(x) for x in raw]
    missing = n - sum(parts)
    if missing:
        order = sorted(range(len(raw)), key=lambda i: (parts[i] - raw[i], i))
        for i in order[:missing]:
            parts[i] += 1
    return parts


@lru_cache(maxsize=131072)
def node_rows(
    seed: int,
    sessions_per_day: int,
    report: str,
    day: int,
    path: tuple[str, ...],
    permille: int,
    large: int | None = None,
) -> dict[str, Counts]:
    """Counts per child value of ``path`` on ``day`` at restatement ``permille``; zero rows left out."""
    if path:
        parent = node_rows(seed, sessions_per_day, report, day, path[:-1], permille, large).get(path[-1], ZERO)
    else:
        parent = day_counts(seed, sessions_per_day, day, permille)
    kids = children(seed, report, path, large)
    if not kids or parent == ZERO:
        return {}
    traffic, lifecycle = _weights(seed, report, day, path, large)
    columns: list[list[int]] = [[]] * len(COUNTS)
    t_total, l_total = sum(traffic), sum(lifecycle)
    for i in TRAFFIC:
        columns[i] = _split(parent[i], traffic, t_total)
    for i in LIFECYCLE:
        columns[i] = _split(parent[i], lifecycle, l_total)
    rows = {}
    for k, kid in enumerate(kids):
        counts = tuple(col[k] for col in columns)
        if any(counts):
            rows[kid] = counts
    return rows


def day_counts(seed: int, sessions_per_day: int, day: int, permille: int) -> Counts:
    final = day_final(seed, sessions_per_day, day)
    return final if permille == 1000 else tuple(c * permille // 1000 for c in final)


def add(a: Counts, b: Counts) -> Counts:
    return tuple(x + y for x, y in zip(a, b, strict=True))


def metrics(counts: Counts) -> dict[str, int | float]:
    """A row's metrics in the document's order; zero counts and undefined ratios are left out like the
    document's example rows (``paid`` has no ``leads``; ``offline`` has no ``visits``)."""
    row: dict[str, int | float] = {name: v for name, v in zip(PUBLIC_COUNTS, counts, strict=False) if v}
    visits, contacts = counts[VISITS], counts[CONTACTS]
    if visits:
        for name, value in (
            ("pageviewsPerSession", counts[RAW] / visits),
            ("bounceRate", counts[BOUNCES] / visits),
            ("timePerSession", counts[SECONDS] / visits),
            ("newVisitorSessionRate", counts[NEW_SESSIONS] / visits),
            ("sessionToContactRate", contacts / visits),
        ):
            if value:
                row[name] = value
    if contacts and counts[CUSTOMERS]:
        row["contactToCustomerRate"] = counts[CUSTOMERS] / contacts
    return row
