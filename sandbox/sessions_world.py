"""The simulated website visited by the AttributionHub and Humblytics sandboxes: sessions, users, conversions.

One session list per UTC day, generated from ``(seed, sessions_per_day, day)`` only, so a day's history never
changes when the simulated clock moves; only *visibility* depends on ``today`` (late conversions, and days
before ``today`` exist at all). Users return across days without cross-day state: a user id encodes the day
the user was "born", and a returning session picks a user born up to ``RETURN_WINDOW_DAYS`` earlier, which
also bounds how far around a window the insights must look to see complete journeys.

Hardening (``SandboxConfig``): ``today_partial`` makes today's sessions that started before simulated now
visible (yesterday is the last day otherwise); ``conversions_arrive_intraday`` makes a conversion visible at
an instant — between 1 h and 1 day after it happened when its delay is one day, within its last day when the
delay is longer, so never ``late_conversion_days`` days or more after it — instead of at midnight, so
conversions arrive while a run pages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import accumulate

from sandbox.core import SandboxConfig, now_ms, rng

RETURN_WINDOW_DAYS = 21  # a user's sessions all fall within this many days after the user's first id day
_NEW_USER_SHARE = 0.55  # fraction of a day's sessions that may start a new user id
_USER_SLOTS = 100_000  # user id = day ordinal * slots + index; more than any sessions_per_day we use
SITE = "https://www.example.com"
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()

# (medium, source, utm_source, utm_medium, weight, conversion probability, campaigns).
# Sources are primary domains; the conversions document says utm_source/utm_medium override the derived
# values, so tagged traffic (newsletter) reports its utm values. The self-referral channel never converts:
# it is what makes a session-filtered /conversions page come back empty with has_more=true.
CHANNELS: tuple[tuple[str, str, str, str, float, float, tuple[str, ...]], ...] = (
    ("organic", "google.com", "", "", 0.26, 0.05, ()),
    ("cpc", "google.com", "google.com", "cpc", 0.12, 0.12, ("brand-search", "competitor-kw", "Spring_Sale")),
    ("organic", "bing.com", "", "", 0.04, 0.05, ()),
    ("paid", "facebook.com", "facebook.com", "paid", 0.07, 0.04, ("retargeting", "lookalike-q3")),
    ("social", "facebook.com", "", "", 0.04, 0.02, ()),
    ("social", "linkedin.com", "", "", 0.05, 0.04, ()),
    ("paid", "linkedin.com", "linkedin.com", "paid", 0.03, 0.09, ("abm-enterprise",)),
    ("email", "newsletter", "newsletter", "email", 0.08, 0.10, ("weekly-digest", "product-launch")),
    ("referral", "g2.com", "", "", 0.03, 0.08, ()),
    ("(none)", "example.com", "", "", 0.18, 0.06, ()),
    ("referral", "example.com", "", "", 0.10, 0.0, ()),
)
_CHANNEL_CUM = list(accumulate(c[4] for c in CHANNELS))

LANDING_PAGES = (
    f"{SITE}/",
    f"{SITE}/pricing/",
    f"{SITE}/features/",
    f"{SITE}/blog/attribution-101/",
    f"{SITE}/blog/utm-guide/",
    f"{SITE}/request-a-demo/",
    f"{SITE}/contact us/",
    "https://store.example.com/products/xyz",
)
_LANDING_CUM = list(accumulate((30, 18, 12, 10, 8, 8, 4, 10)))
BROWSE_PAGES = tuple(f"{SITE}{p}" for p in ("/pricing/", "/features/", "/customers/", "/blog/", "/docs/"))

# (type, id, conversion page, weight). Types are what records carry; note the documents' filter example
# says "custom" while records say "custom_event" (conversions document), and matching is exact.
CONVERSION_POINTS = (
    ("hubspot_form", "5f0c7e1a-2b3d-4c5e-9f60-7a8b9c0d1e2f", f"{SITE}/contact us/", 20),
    ("hubspot_form", "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d", f"{SITE}/pricing/", 10),
    ("html_form", "request-a-demo-form", f"{SITE}/request-a-demo/", 30),
    ("html_form", "newsletter-signup", f"{SITE}/blog/", 15),
    ("custom_event", "purchase-complete", "https://store.example.com/purchase-complete", 15),
    ("custom_event", "trial-started", f"{SITE}/signup/thank-you/", 10),
)
_POINT_CUM = list(accumulate(p[3] for p in CONVERSION_POINTS))
_FIRST = ("ana", "ben", "chloe", "dev", "emma", "finn", "gita", "hugo", "iris", "jon", "kim", "liam", "mia")
_LAST = ("smith", "garcia", "chen", "novak", "okafor", "rossi", "schmidt", "tanaka", "dubois", "silva")
_DOMAINS = ("gmail.com", "acme.io", "globex.com", "initech.net", "outlook.com", "umbrella.org")
# More sessions in the (UTC) working day, so hourly buckets are uneven and some are empty.
_HOURS = range(24)
_HOUR_CUM = list(accumulate((1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 6, 5, 4, 3, 2, 1)))


@dataclass(frozen=True, slots=True)
class Conversion:
    """One conversion event. The API gives it no id (facts.md), so none is modelled."""

    at: int  # epoch seconds
    page: str
    previous_page: str
    meta_type: str
    meta_id: str
    email_captured: bool  # the conversions document: email only "if captured during the conversion"
    delay_days: int  # visible from simulated today >= session day + delay_days (late conversions)


@dataclass(frozen=True, slots=True)
class Session:
    """One visit. ``source``/``medium`` are what AttributionHub reports (utm values override derived ones)."""

    key: tuple[int, int]  # (day ordinal, index within day): unique and sortable
    user_id: int
    email: str
    start: int  # epoch seconds, UTC
    exit: int | None  # exit timestamp; missing for some non-converting sessions (insights document)
    source: str
    medium: str
    campaign: str  # utm values; "" when the link was untagged
    content: str
    term: str
    landing_page: str
    exit_page: str
    conversions: tuple[Conversion, ...]

    @property
    def day(self) -> int:
        return self.key[0]

    @property
    def channel(self) -> str:
        return f"{self.medium}/{self.source}"

    def visible_conversions(
        self, today_ordinal: int, now_s: int | None = None, seed: int = 0
    ) -> tuple[Conversion, ...]:
        """Conversions the vendor has processed by ``today`` (late ones appear up to N days after); with
        ``now_s`` (intraday arrival), those whose arrival instant is before ``now_s``."""
        if now_s is None:
            return tuple(c for c in self.conversions if today_ordinal >= self.day + c.delay_days)
        return tuple(c for i, c in enumerate(self.conversions) if now_s >= arrival_s(seed, self, i))


def arrival_s(seed: int, session: Session, i: int) -> int:
    """When conversion ``i`` of ``session`` becomes visible under ``conversions_arrive_intraday`` (epoch s):
    its time plus a lag of 1 h..1 day (delay 1) or within its last day (delay k: (k-1)..k days)."""
    conv = session.conversions[i]
    share = rng(seed, "arrival", session.key, i).random()
    if conv.delay_days <= 1:
        return conv.at + 3600 + int(share * (86400 - 3600))
    return conv.at + (conv.delay_days - 1) * 86400 + int(share * 86400)


def conversions_visible(config: SandboxConfig) -> Callable[[Session], tuple[Conversion, ...]]:
    """The visibility rule of ``config``: a session's conversions the vendor shows at simulated now."""
    today = config.today.toordinal()
    if not config.conversions_arrive_intraday:
        return lambda session: session.visible_conversions(today)
    now_s, seed = now_ms(config) // 1000, config.seed
    return lambda session: session.visible_conversions(today, now_s, seed)


@lru_cache(maxsize=65536)
def user_email(seed: int, user_id: int) -> str:
    r = rng(seed, "user", user_id)
    return f"{r.choice(_FIRST)}.{r.choice(_LAST)}{user_id % 997}@{r.choice(_DOMAINS)}"


def _late_delay(seed: int, day: int, index: int, late_days: int) -> int:
    """Most conversions are visible the next day; about one in five lags 2..late_days days."""
    r = rng(seed, "late", day, index)
    if late_days <= 1 or r.random() >= 0.2:
        return 1
    return r.randint(2, late_days)


@lru_cache(maxsize=4096)
def day_sessions(seed: int, sessions_per_day: int, late_days: int, day: int) -> tuple[Session, ...]:
    """All sessions that started on UTC day ``day`` (a proleptic ordinal), ordered by start."""
    r = rng(seed, "sessions", day)
    count = max(1, round(sessions_per_day * r.uniform(0.8, 1.2)))
    new_per_day = max(1, int(sessions_per_day * _NEW_USER_SHARE))
    midnight = day_start(day)
    drafts = []
    for _ in range(count):
        hour = r.choices(_HOURS, cum_weights=_HOUR_CUM)[0]
        drafts.append((midnight + hour * 3600 + r.randrange(3600), r.random()))
    drafts.sort()
    sessions = []
    for index, (start, roll) in enumerate(drafts):
        if roll < _NEW_USER_SHARE:
            user_id = day * _USER_SLOTS + r.randrange(new_per_day)
        else:
            back = min(RETURN_WINDOW_DAYS, 1 + int(r.expovariate(1 / 4)))
            user_id = (day - back) * _USER_SLOTS + r.randrange(new_per_day)
        medium, source, _, _, _, conv_p, campaigns = r.choices(CHANNELS, cum_weights=_CHANNEL_CUM)[0]
        campaign = r.choice(campaigns) if campaigns else ""
        content = r.choice(("", "", "banner-a", "text-ad")) if campaign else ""
        term = r.choice(("", "attribution software", "utm tracking")) if medium == "cpc" else ""
        landing = r.choices(LANDING_PAGES, cum_weights=_LANDING_CUM)[0]
        duration = int(r.lognormvariate(4.6, 0.9)) + 5
        conversions: tuple[Conversion, ...] = ()
        if r.random() < conv_p:
            points = [r.choices(CONVERSION_POINTS, cum_weights=_POINT_CUM)[0]]
            if r.random() < 0.1:  # a session occasionally fires a second conversion point
                points.append(r.choices(CONVERSION_POINTS, cum_weights=_POINT_CUM)[0])
            conversions = tuple(
                Conversion(
                    at=start + max(1, int(duration * r.uniform(0.3, 0.95))),
                    page=page,
                    previous_page=r.choice(BROWSE_PAGES),
                    meta_type=meta_type,
                    meta_id=meta_id,
                    email_captured=meta_type != "custom_event" or r.random() < 0.7,
                    delay_days=_late_delay(seed, day, index * 2 + n, late_days),
                )
                for n, (meta_type, meta_id, page, _) in enumerate(points)
            )
        has_exit = bool(conversions) or r.random() < 0.75
        sessions.append(
            Session(
                key=(day, index),
                user_id=user_id,
                email=user_email(seed, user_id),
                start=start,
                exit=start + duration if has_exit else None,
                source=source,
                medium=medium,
                campaign=campaign,
                content=content,
                term=term,
                landing_page=landing,
                exit_page=r.choice((*BROWSE_PAGES, landing)),
                conversions=conversions,
            )
        )
    return tuple(sessions)


def day_of(epoch: int) -> int:
    """The UTC day ordinal an epoch second falls on."""
    return epoch // 86400 + _EPOCH_ORDINAL


def day_start(day: int) -> int:
    """Epoch seconds of 00:00 UTC on day ordinal ``day``."""
    return (day - _EPOCH_ORDINAL) * 86400


def history_bounds(config: SandboxConfig) -> tuple[int, int]:
    """First and last day ordinals with data: the pinned ``world_start`` (else ``history_days`` back) to
    yesterday, since today is not over (to today with ``today_partial``: see ``before_now``). Pinning keeps
    old days from vanishing when the clock moves."""
    today = config.today.toordinal()
    first = config.world_start.toordinal() if config.world_start else today - config.history_days
    return first, today if config.today_partial else today - 1


def before_now(config: SandboxConfig) -> int:
    """Epoch seconds of simulated now: today's sessions that started before it exist (``today_partial``)."""
    return now_ms(config) // 1000


def sessions_for_days(config: SandboxConfig, first_day: int, last_day: int) -> list[Session]:
    """Sessions of the days in ``[first_day, last_day]`` that exist at ``config.today``, ordered by start."""
    lo, hi = history_bounds(config)
    out: list[Session] = []
    today, now = config.today.toordinal(), before_now(config)
    for day in range(max(first_day, lo), min(last_day, hi) + 1):
        sessions = day_sessions(config.seed, config.sessions_per_day, config.late_conversion_days, day)
        out.extend(s for s in sessions if s.start < now) if day == today else out.extend(sessions)
    return out
