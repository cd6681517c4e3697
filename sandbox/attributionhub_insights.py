"""``POST /api/v1/insights``: cohort metrics over complete user journeys (attributionhub-insights-api.txt).

A user is in the cohort when at least one of their sessions inside the window matches every filter and the
touch_scope; user, conversion and channel metrics then look at the user's *whole* journey, while
session_summary looks only at the matching sessions (both as the insights document states). Only conversions
visible at the simulated today count, so late conversions move these numbers too.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from sandbox.attributionhub_query import AttributionQuery
from sandbox.core import SandboxConfig
from sandbox.sessions_world import (
    RETURN_WINDOW_DAYS,
    Conversion,
    Session,
    conversions_visible,
    day_of,
    sessions_for_days,
)

TIMELINE_BINS = (("0-1 days", 1), ("1-3 days", 3), ("3-7 days", 7), ("7+ days", None))  # insights document


def _pct(part: float, whole: float) -> str:
    """Percentages arrive as strings such as "32.81%" (facts.md)."""
    return f"{(100 * part / whole if whole else 0.0):.2f}%"


def _mean(values: list[float]) -> float:
    return round(statistics.fmean(values), 1) if values else 0.0


def _median(values: list[float]) -> float:
    return round(float(statistics.median(values)), 1) if values else 0.0


class _Journey:
    """One user's sessions in order, with the index of the first session carrying a visible conversion."""

    def __init__(self, sessions: list[Session], visible: Callable[[Session], tuple[Conversion, ...]]) -> None:
        self.sessions = sessions
        self.conversions = [visible(s) for s in sessions]
        self.converted_at = next((i for i, c in enumerate(self.conversions) if c), None)

    def roles(self, i: int) -> set[str]:
        """touch_scope roles of session ``i`` (insights document, touch_scope)."""
        roles = {"any"}
        if i == 0:
            roles.add("first")
        if self.conversions[i]:
            roles.add("converting")
        if self.converted_at is not None:
            if 0 < i < self.converted_at:
                roles.add("assist")
            elif i > self.converted_at:
                roles.add("after")
        return roles

    def matching(self, query: AttributionQuery) -> list[int]:
        return [
            i
            for i, s in enumerate(self.sessions)
            if query.start <= s.start <= query.end
            and query.session_matches(s)
            and (not query.conversion_filters or any(map(query.conversion_matches, self.conversions[i])))
            and query.touch_scope in self.roles(i)
        ]

    def time_to_convert(self) -> int:
        """Seconds from first touch to the first conversion (insights document, avg_time_to_convert)."""
        assert self.converted_at is not None
        first_conversion = min(c.at for c in self.conversions[self.converted_at])
        return first_conversion - self.sessions[0].start


def _session_summary(sessions: list[tuple[Session, tuple[Conversion, ...]]]) -> dict[str, Any]:
    converting = [(s, c) for s, c in sessions if c]
    # "Sessions that ended without a conversion but included an exit timestamp" (insights document).
    drop_off = [s.exit - s.start for s, c in sessions if not c and s.exit is not None]
    return {
        "total_sessions": len(sessions),
        "total_converting_sessions": len(converting),
        "total_drop_off_sessions": len(drop_off),
        "avg_session_duration_seconds": _mean([s.exit - s.start for s, _ in sessions if s.exit is not None]),
        # The document defines the converting average as start → conversion, but the median as the
        # converting sessions' duration (to exit); each follows its own definition.
        "avg_converting_session_duration": _mean([min(x.at for x in c) - s.start for s, c in converting]),
        "avg_drop_off_session_duration": _mean(drop_off),
        "median_converting_session_duration": _median([s.exit - s.start for s, _ in converting if s.exit is not None]),
        "median_drop_off_session_duration": _median(drop_off),
    }


def _conversion_summary(converted: list[_Journey]) -> dict[str, Any]:
    times = [j.time_to_convert() for j in converted]
    counts = dict.fromkeys((name for name, _ in TIMELINE_BINS), 0)
    for seconds in times:
        name = next(n for n, upper in TIMELINE_BINS if upper is None or seconds < upper * 86400)
        counts[name] += 1
    return {
        "avg_time_to_convert": _mean(times),
        "median_time_to_convert": _median(times),
        "conversion_timeline_bins": {
            "counts": counts,
            "percentages": {n: round(100 * c / len(times), 2) if times else 0.0 for n, c in counts.items()},
        },
    }


def _channels(cohort: list[_Journey]) -> list[dict[str, Any]]:
    sessions: dict[str, int] = defaultdict(int)
    users: dict[str, set[int]] = defaultdict(set)
    touches: dict[str, dict[str, set[int]]] = defaultdict(lambda: defaultdict(set))
    converted_users = 0
    for journey in cohort:
        user = journey.sessions[0].user_id
        conv = journey.converted_at
        converted_users += conv is not None
        for i, s in enumerate(journey.sessions):
            sessions[s.channel] += 1
            users[s.channel].add(user)
            if conv is None:
                continue
            if i == 0:
                touches[s.channel]["first"].add(user)
            if 0 < i < conv:
                touches[s.channel]["assist"].add(user)
            if i == conv:
                touches[s.channel]["converting"].add(user)
            if i > conv:
                touches[s.channel]["after"].add(user)
            if i <= conv:
                touches[s.channel]["before"].add(user)
    all_sessions = sum(sessions.values())
    rows = []
    for channel, channel_sessions in sessions.items():
        t = touches[channel]
        attributed = len(t["before"])
        rows.append(
            {
                "channel": channel,
                "total_sessions": channel_sessions,
                "total_users": len(users[channel]),
                "converting_users_first_touch": len(t["first"]),
                "converting_users_assisting_touch": len(t["assist"]),
                "converting_users_converting_touch": len(t["converting"]),
                "converting_users_after_touch": len(t["after"]),
                "session_influence": _pct(channel_sessions, all_sessions),
                "conversion_influence": _pct(attributed, converted_users),
                "attributed_to_conversion": attributed,
                "conversion_rate": _pct(attributed, len(users[channel])),
            }
        )
    # "Channels are returned in descending order by total_sessions + total_users" (insights document).
    rows.sort(key=lambda r: (-(r["total_sessions"] + r["total_users"]), r["channel"]))
    return rows


def compute_insights(query: AttributionQuery, config: SandboxConfig) -> dict[str, Any] | None:
    """The insights body, or None when no user qualifies (the caller answers with the message)."""
    visible = conversions_visible(config)
    # A user's sessions span at most RETURN_WINDOW_DAYS, so this range holds every cohort member's journey.
    first_day = day_of(query.start) - RETURN_WINDOW_DAYS
    by_user: dict[int, list[Session]] = defaultdict(list)
    for s in sessions_for_days(config, first_day, day_of(query.end) + RETURN_WINDOW_DAYS):
        by_user[s.user_id].append(s)
    cohort: list[_Journey] = []
    matched: list[tuple[Session, tuple[Conversion, ...]]] = []
    for user_sessions in by_user.values():
        journey = _Journey(user_sessions, visible)
        hits = journey.matching(query)
        if hits:
            cohort.append(journey)
            matched.extend((journey.sessions[i], journey.conversions[i]) for i in hits)
    if not cohort:
        return None
    converted = [j for j in cohort if j.converted_at is not None]
    return {
        "overall_metrics": {
            "user_summary": {
                "total_users": len(cohort),
                "total_converted_users": len(converted),
                "conversion_rate": _pct(len(converted), len(cohort)),
                "avg_sessions_per_user": _mean([len(j.sessions) for j in cohort]),
                "avg_sessions_per_converted_user": _mean([len(j.sessions) for j in converted]),
            },
            "session_summary": _session_summary(matched),
            "conversion_summary": _conversion_summary(converted),
            "channels": _channels(cohort),
        }
    }
