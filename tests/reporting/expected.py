"""What the views must say about the test world, computed from the sandbox's own world models.

Independent of the views' SQL: numbers come from the simulators' generators (the same functions that
answer the HTTP requests), and the channel of each vendor value from the hand-written tables below, not
from channel_map.csv. Days are the loaded days START..LAST; the nightly ran once, on 2026-11-20.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

from sandbox import hubspot_analytics_world as hs
from sandbox.attributionhub_insights import compute_insights
from sandbox.attributionhub_query import parse_query
from sandbox.core import SandboxConfig, now_ms
from sandbox.hubspot_common import DAY_MS, day_start_ms
from sandbox.hubspot_leads_render import render_lead
from sandbox.hubspot_leads_world import LeadState, WorldKey, lead_guid, lead_state
from sandbox.humblytics_world import day_visits
from sandbox.sessions_world import day_sessions

# The channel of every value the test world produces, by hand (README, "Channel map").
HUBSPOT_CHANNEL = {
    "organic": "organic search",
    "paid": "paid search",
    "social": "organic social",
    "email": "email",
    "referrals": "referral",
    "direct": "direct",
    "other": "other",
    "offline": "other",
}
HUMBLYTICS_CHANNEL = {  # (utm_source, utm_medium); untagged visits are "unknown"
    ("google.com", "cpc"): "paid search",
    ("facebook.com", "paid"): "paid social",
    ("linkedin.com", "paid"): "paid social",
    ("newsletter", "email"): "email",
    ("unknown", "unknown"): "other",
}
ATTRIBUTIONHUB_CHANNEL = {
    "organic/google.com": "organic search",
    "organic/bing.com": "organic search",
    "cpc/google.com": "paid search",
    "paid/facebook.com": "paid social",
    "paid/linkedin.com": "paid social",
    "social/facebook.com": "organic social",
    "social/linkedin.com": "organic social",
    "email/newsletter": "email",
    "referral/g2.com": "referral",
    "referral/example.com": "referral",
    "(none)/example.com": "direct",
}
CHANNELS = (
    "organic search",
    "paid search",
    "paid social",
    "organic social",
    "email",
    "referral",
    "direct",
    "other",
)


def days(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _permille(config: SandboxConfig, day: dt.date) -> int:
    """How much of the day's final numbers HubSpot shows on simulated today (recent days are restated)."""
    age = config.today.toordinal() - day.toordinal()
    return hs.restatement_permille(
        config.seed, day.toordinal(), age, config.restate_days, can_drop=config.restate_can_drop
    )


def hubspot_totals(config: SandboxConfig, day: dt.date) -> tuple[int, int, int]:
    """(visits, visitors, raw views) as HubSpot shows the day on simulated today."""
    counts = hs.day_counts(config.seed, config.sessions_per_day, day.toordinal(), _permille(config, day))
    return counts[hs.VISITS], counts[hs.VISITORS], counts[hs.RAW]


def humblytics_traffic(config: SandboxConfig, day: dt.date) -> tuple[int, int]:
    """(pageviews, unique visitors) of a UTC day."""
    visits = _visits(config, day)
    return sum(v.pageviews for v in visits), len({v.visitor for v in visits})


def _visits(config: SandboxConfig, day: dt.date) -> tuple:
    return day_visits(
        config.seed, config.humblytics_property, config.sessions_per_day, config.late_conversion_days, day.toordinal()
    )


def attributionhub_conversions(config: SandboxConfig, day: dt.date) -> int:
    """Conversions visible on simulated today whose session started on `day`."""
    sessions = day_sessions(config.seed, config.sessions_per_day, config.late_conversion_days, day.toordinal())
    return sum(len(s.visible_conversions(config.today.toordinal())) for s in sessions)


def attributionhub_emails(config: SandboxConfig, first: dt.date, last: dt.date) -> Counter[str]:
    out: Counter[str] = Counter()
    for day in days(first, last):
        for s in day_sessions(config.seed, config.sessions_per_day, config.late_conversion_days, day.toordinal()):
            for c in s.visible_conversions(config.today.toordinal()):
                if c.email_captured:
                    out[s.email.lower()] += 1
    return out


_LEADS: dict[tuple[object, ...], tuple[LeadState, ...]] = {}


def loaded_leads(config: SandboxConfig, start: dt.date) -> tuple[LeadState, ...]:
    """The leads a nightly from `start` loads: every lead last modified since then, as seen at simulated now."""
    cache_key = (config.seed, config.leads_per_day, config.world_start, config.today, start)
    if cache_key not in _LEADS:
        key = WorldKey.of(config)
        now = now_ms(config)
        count = max(0, (now - key.start_ms) // DAY_MS) * key.leads_per_day
        since = day_start_ms(start.toordinal())
        states = (lead_state(key, n, now) for n in range(count))
        _LEADS[cache_key] = tuple(s for s in states if s.last_modified >= since)
    return _LEADS[cache_key]


def live_leads(config: SandboxConfig, start: dt.date) -> list[LeadState]:
    return [s for s in loaded_leads(config, start) if not s.deleted]


def ms_to_utc(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)


def leads_created(config: SandboxConfig, start: dt.date) -> Counter[dt.date]:
    return Counter(ms_to_utc(s.facts.inserted).date() for s in live_leads(config, start))


def lead_email(config: SandboxConfig, state: LeadState) -> str:
    return str(render_lead(config.seed, state)["email"])


def lead_guid_of(config: SandboxConfig, state: LeadState) -> str:
    return lead_guid(config.seed, state.n)


def hubspot_channels(config: SandboxConfig, day: dt.date) -> dict[str, tuple[int, int]]:
    """channel -> (visits, contacts) from the `sources` report's top-level rows."""
    rows = hs.node_rows(
        config.seed,
        config.sessions_per_day,
        "sources",
        day.toordinal(),
        (),
        _permille(config, day),
        config.hubspot_large_report_values,
    )
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for value, counts in rows.items():
        channel = HUBSPOT_CHANNEL[value]
        out[channel][0] += counts[hs.VISITS]
        out[channel][1] += counts[hs.CONTACTS]
    return {channel: (v[0], v[1]) for channel, v in out.items()}


def humblytics_channels(config: SandboxConfig, day: dt.date) -> Counter[str]:
    """channel -> sessions."""
    out: Counter[str] = Counter()
    for v in _visits(config, day):
        out[HUMBLYTICS_CHANNEL[(v.utm_source or "unknown", v.utm_medium or "unknown")]] += 1
    return out


def attributionhub_channels(config: SandboxConfig, day: dt.date) -> dict[str, tuple[int, int]]:
    """channel -> (journey sessions, converted users) of the day's insights (segment `all`)."""
    body = {"start_date": f"{day.isoformat()}T00:00:00Z", "end_date": f"{day.isoformat()}T23:59:59Z"}
    insights = compute_insights(parse_query(body, config, allow_touch_scope=True), config)
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in (insights or {}).get("overall_metrics", {}).get("channels", []):
        channel = ATTRIBUTIONHUB_CHANNEL[row["channel"]]
        out[channel][0] += row["total_sessions"]
        out[channel][1] += row["attributed_to_conversion"]
    return {channel: (v[0], v[1]) for channel, v in out.items()}
