"""Run progress: a live view on a terminal, one line per source and stage otherwise (cron, CI, logs).

dlt's own log collector prints two framed blocks per stage, which buries the summary in a cron mail; the
line form says what each stage did and how long it took, and nothing else. Sources extract side by side
(pipelines/runner.py), each with its own collector: lines are written whole, one at a time, so they interleave
by line, never within one; each names its source.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from typing import Any, TextIO

import dlt
from dlt.common.runtime.collector_base import Collector

_TALLIES = frozenset({"Resources", "Files", "Jobs"})  # dlt's counters of work units, not of rows
_WRITING = threading.Lock()  # one line at a time from the sources' threads


class StageLines(Collector):
    """One line when a stage ends: `<stage> <source>: N rows (largest: table N, …) in S s`."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.step = ""
        self.counters: defaultdict[str, int] = defaultdict(int)
        self._started = 0.0

    def update(
        self,
        name: str,
        inc: int = 1,
        total: int | None = None,
        inc_total: int | None = None,
        message: str | None = None,
        label: str | None = None,
    ) -> None:
        self.counters[name] += inc

    def _start(self, step: str) -> None:
        self.step = " ".join(step.split()[:2])  # "Load hubspot_leads in 1796…" → "Load hubspot_leads"
        self.counters = defaultdict(int)
        self._started = time.monotonic()

    def _stop(self) -> None:
        rows = {k: v for k, v in self.counters.items() if k not in _TALLIES and not k.startswith("_dlt") and v}
        elapsed = f"in {time.monotonic() - self._started:.1f} s"
        if rows:
            largest = ", ".join(f"{k} {v}" for k, v in sorted(rows.items(), key=lambda kv: -kv[1])[:3])
            line = f"{self.step}: {sum(rows.values())} rows (largest: {largest}) {elapsed}"
        elif self.counters.get("Jobs"):
            line = f"{self.step}: {self.counters['Jobs']} load jobs {elapsed}"
        else:
            return  # dlt's own bookkeeping stage (the pipeline state), nothing a reader needs
        with _WRITING:
            print(line, file=self.stream, flush=True)


def progress_for(stream: TextIO) -> Any:
    """A live progress view (dlt's tqdm collector) on a terminal, stage lines anywhere else."""
    if stream.isatty():
        return dlt.progress.tqdm(colour="green")  # type: ignore[attr-defined]
    return StageLines(stream)
