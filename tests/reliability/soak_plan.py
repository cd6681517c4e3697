"""The soak's nights: which faults each night serves and what the night must end with (tests/reliability/test_soak.py).

Deterministic (a seed per night), so a failing night is the same night again on the next run. Each ordinary
night serves one transient fault rule to each of three of the four vendors (5xx bursts, 429s with a
Retry-After, dropped connections, truncated JSON, answers slower than the client's timeout), bounded so that
one request meets at most three faults of its rule: the shipped six attempts absorb them, together with the
hard sandbox's own refusals (Humblytics' 10 requests/s, half of its 429s without Retry-After). A few nights
are special: a vendor down all night (its sources fail, the others load), HubSpot's ten-second 429 without
Retry-After, a SIGKILL in the load of Leads and a Ctrl-C in AttributionHub's extract (both a real process).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import pendulum

from tests.reliability.harness import FIRST_NIGHT

VENDORS = ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics")
SOURCES_OF = {vendor: (vendor,) for vendor in VENDORS}  # the sources a fault target's outage fails
# The latest request a night's rule may start at, per vendor: within what a nightly of each sends.
LATEST_START = {"hubspot_analytics": 12, "hubspot_leads": 3, "attributionhub": 4, "humblytics": 20}
DOWN = {6: "attributionhub", 13: "humblytics", 20: "hubspot_leads"}  # night index -> vendor down all night
TEN_SECOND_429 = (3, 24)  # nights HubSpot analytics answers one 429 without Retry-After (waited out)
KILL = (9, "hubspot_leads:load")  # SIGKILL (default signal of pipelines/crashpoints.py)
CTRL_C = (17, "attributionhub:extract:INT")


@dataclass(frozen=True)
class PlannedNight:
    index: int
    day: pendulum.Date
    faults: str
    down: str | None = None  # a vendor answering 503 all night
    crash: str | None = None  # MARKETING_ELT_TEST_CRASH_AT for a night run as a real process
    frozen: bool = False

    @property
    def expected_code(self) -> int:
        if self.crash:
            return 130 if self.crash.endswith(":INT") else -9
        return 1 if self.down else 0

    @property
    def failing_sources(self) -> tuple[str, ...]:
        return SOURCES_OF[self.down] if self.down else ()


def transient_rule(rng: random.Random, vendor: str) -> str:
    """One bounded transient fault for `vendor`, starting within what its nightly sends."""
    start = rng.randint(1, LATEST_START[vendor])
    kind = rng.choice(("5xx", "429", "drop", "truncate", "slow"))
    if kind == "5xx":
        return f"{vendor}:status={rng.choice((500, 502, 503, 504))},start={start},count={rng.randint(1, 3)}"
    if kind == "429":
        return f"{vendor}:status=429,retry_after=0.2,start={start},count={rng.randint(1, 2)}"
    if kind == "drop":
        return f"{vendor}:drop,start={start},count={rng.randint(1, 2)}"
    if kind == "truncate":
        return f"{vendor}:truncate,start={start},count={rng.randint(1, 2)}"
    return f"{vendor}:slow=2,nth={start}"  # 2 s against the soak's 1.5 s read timeout


def plan(nights: int, seed: int = 18) -> list[PlannedNight]:
    """`nights` nights from the fixtures' first simulated day; the last one with the clock standing still."""
    out = []
    for index in range(nights):
        rng = random.Random(seed * 1000 + index)
        down = DOWN.get(index)
        others = [vendor for vendor in VENDORS if vendor != down]
        rules = [transient_rule(rng, vendor) for vendor in sorted(rng.sample(others, 3))]
        if down:
            rules.append(f"{down}:status=503")
        if index in TEN_SECOND_429:
            rules = [rule for rule in rules if not rule.startswith("hubspot_analytics:")]
            rules.append("hubspot_analytics:status=429,nth=2")
        crash = dict((KILL, CTRL_C)).get(index)
        out.append(PlannedNight(index, FIRST_NIGHT.add(days=index), ";".join(rules), down, crash, index == nights - 1))
    return out
