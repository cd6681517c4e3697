"""Figures, the one printed table, and the JSON written to benchmarks/results/.

A `Figure` keeps every sample, not only the median, so the JSON shows the spread a reader needs to judge
whether two runs of `make bench` really differ.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Figure:
    """One measured quantity: what was compared (`benchmark`, `what`), its samples and unit."""

    benchmark: str
    what: str
    samples: list[float]
    unit: str
    note: str = ""

    @property
    def runs(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "runs": self.runs, "median": self.median}


def _number(value: float) -> str:
    """Human-sized numbers: thousands separators for big ones, 3 significant digits for small ones."""
    if math.isnan(value):
        return "n/a"
    if abs(value) >= 100 or (abs(value) >= 10 and value.is_integer()):
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def format_table(figures: list[Figure]) -> str:
    """One plain-text table: benchmark, what, runs, median, unit, min-max, note."""
    header = ("benchmark", "what", "runs", "median", "unit", "min-max", "note")
    rows = [
        (
            f.benchmark,
            f.what,
            str(f.runs),
            _number(f.median),
            f.unit,
            f"{_number(min(f.samples))}-{_number(max(f.samples))}" if f.samples else "",
            f.note,
        )
        for f in figures
    ]
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    right = {2, 3, 5}  # numbers

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(
            cell.rjust(width) if i in right else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(header), rule, *(line(row) for row in rows)])


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def machine_info() -> dict[str, Any]:
    """What the figures depend on: cores, OS, Python and the two libraries doing the work."""
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "dlt": _version("dlt"),
        "duckdb": _version("duckdb"),
        "pyarrow": _version("pyarrow"),
        "httpx": _version("httpx"),
    }


def write_results(path: Path, *, mode: str, started_utc: str, elapsed_s: float, figures: list[Figure]) -> Path:
    """The table as JSON, with the machine it was measured on."""
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "started_utc": started_utc,
        "mode": mode,
        "elapsed_s": round(elapsed_s, 1),
        "machine": machine_info(),
        "figures": [f.as_json() for f in figures],
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
