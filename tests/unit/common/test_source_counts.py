"""Per-source request counts (sources/common/stats.py) hold when sources and their fan-outs run in threads."""

from __future__ import annotations

import contextvars
from concurrent.futures import ThreadPoolExecutor

from sources.common.fanout import ordered_fanout
from sources.common.stats import RunStats, counting_for, current_source


def test_counts_made_in_fanout_threads_are_credited_to_the_source_that_started_them() -> None:
    stats = RunStats()

    def one_source(name: str, requests: int) -> list[str | None]:
        def request(_: int) -> str | None:
            stats.add_request("hubspot")
            return current_source()

        with counting_for(name):
            return list(ordered_fanout(request, range(requests), workers=3))

    with ThreadPoolExecutor(max_workers=2) as pool:
        analytics = pool.submit(contextvars.copy_context().run, one_source, "hubspot_analytics", 40)
        leads = pool.submit(contextvars.copy_context().run, one_source, "hubspot_leads", 25)
        seen = {*analytics.result(), *leads.result()}

    assert seen == {"hubspot_analytics", "hubspot_leads"}
    assert stats.snapshot()["requests"] == {"hubspot": 65}  # the vendor's budget is shared
    assert stats.for_source("hubspot_analytics")["requests"] == 40
    assert stats.for_source("hubspot_leads")["requests"] == 25


def test_counts_outside_any_source_count_for_the_vendor_only_and_reset_clears_both() -> None:
    stats = RunStats()
    stats.add_retry("humblytics")
    with counting_for("humblytics"):
        stats.add_split("humblytics", 2)
    assert stats.for_source("humblytics") == {"requests": 0, "retries": 0, "splits": 2, "incomplete": 0}
    assert stats.snapshot()["retries"] == {"humblytics": 1}
    assert current_source() is None
    stats.reset()
    assert stats.for_source("humblytics")["splits"] == 0 and stats.snapshot()["splits"] == {}
