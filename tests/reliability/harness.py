"""What every reliability scenario needs: nights run through the real CLI, a clean reference, a row-for-row compare.

The yardstick (issue 18): the warehouse after the faulty run(s) equals, row for row, the warehouse after one
clean run over the same sandbox world — every column but dlt's ids (`_dlt_*`) and load times (`_loaded_at`),
every table but dlt's and the run ledger's (names starting with `_`).

- `Warehouse(root)`: a DLT_DATA_DIR and a DuckDB file; `.run(sandbox, at, "run", ...)` runs
  `pipelines.cli.main` in-process with the env a user would set (pointing at the sandbox) and "now" pinned
  through `sources.common.clock.pinned`; `.tables()` reads every data table without dlt's columns.
- `clean_reference(world, day, ...)`: the tables after ONE clean run of a fresh pipeline on a fresh sandbox of
  the same world on `day` (cached per world/day/settings: many scenarios share one).
- `assert_same_warehouse(subject, reference)`: equal table sets, columns and rows (as multisets), with a
  readable diff when not.
- `World`: the sandbox settings a scenario runs in, `HARD` by default.

The world changes during a run (the hard sandbox's moving clock): a lead edited mid-run after its page was
read is loaded by the next night, by design, so two warehouses filled at different moments of a moving day
can differ while both are right. Equality is therefore checked after a night whose clock stands still at the
nightly's 02:00 (`Night(frozen=True)`), for the subject and the reference alike; the nights before it run
with the clock moving.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import orjson
import pendulum

from pipelines.cli import main
from pipelines.demo import sandbox_env
from sandbox.core import HARD, SandboxConfig
from sandbox.faults import FaultsLike
from sandbox.server import SandboxServer
from sources.common import clock

FIRST_NIGHT = pendulum.date(2026, 11, 20)  # the sandbox fixtures' simulated today
NIGHT_HOUR = 2  # the nightly's hour (README, Scheduling); the hard sandbox's clock starts there
DATASET = "marketing"
IGNORED_COLUMN_PREFIXES = ("_dlt_",)
IGNORED_COLUMNS = frozenset({"_loaded_at"})
HUBSPOT = ("hubspot_analytics", "hubspot_leads")

# Fast retries so fault scenarios take seconds; the timeout is short so a `slow` fault exceeds it.
FAST_HTTP = {
    "MARKETING_ELT__HTTP__MAX_ATTEMPTS": "4",
    "MARKETING_ELT__HTTP__BACKOFF_BASE_S": "0.05",
    "MARKETING_ELT__HTTP__BACKOFF_MAX_S": "0.2",
    "MARKETING_ELT__HTTP__MAX_TOTAL_WAIT_S": "30",
    "MARKETING_ELT__HTTP__TIMEOUT_S": "1.5",
}
HUBSPOT_SETTINGS = {
    "SOURCES__HUBSPOT__START_DATE": "2026-11-01",  # 19 days: past the hard sandbox's 14-day drilldown scan limit
    "SOURCES__HUBSPOT__REPORTS": '["totals", "sources", "blog-posts"]',  # drilled, plain, larger than a page
}


def night_of(day: pendulum.Date) -> pendulum.DateTime:
    return pendulum.datetime(day.year, day.month, day.day, NIGHT_HOUR, tz="UTC")


@dataclass(frozen=True)
class World:
    """The sandbox world of a scenario: ``HARD`` plus ``overrides`` (hashable, so references can be cached)."""

    overrides: tuple[tuple[str, Any], ...] = ()

    @classmethod
    def hard(cls, **overrides: Any) -> World:
        return cls(tuple(sorted(overrides.items())))

    def fields(self) -> dict[str, Any]:
        return {**HARD, "today": FIRST_NIGHT, "seed": 42, **dict(self.overrides)}

    def config(self) -> SandboxConfig:
        return SandboxConfig(**self.fields())

    def start(self, faults: FaultsLike = None) -> SandboxServer:
        return SandboxServer(self.config(), faults=faults).start()


@dataclass
class RunResult:
    code: int
    out: str
    err: str
    requests: int = 0  # vendor requests the sandbox saw during the run
    faults: int = 0  # of which a fault rule fired on
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def error_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.startswith("error: ")]


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set env vars for the block and restore the previous ones (the CLI reads config from the environment)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


class Warehouse:
    """One operator's installation: pipeline state (DLT_DATA_DIR) and a DuckDB warehouse under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.db = root / "warehouse.duckdb"
        self.data_dir = root / "dlt"
        root.mkdir(parents=True, exist_ok=True)

    def env(self, sandbox: SandboxServer, settings: Mapping[str, str]) -> dict[str, str]:
        return {
            **sandbox_env(sandbox, sandbox.config),
            "DESTINATION__DUCKDB__CREDENTIALS": str(self.db),
            "DLT_DATA_DIR": str(self.data_dir),
            **FAST_HTTP,
            **HUBSPOT_SETTINGS,
            **settings,
        }

    def run(
        self,
        sandbox: SandboxServer,
        at: pendulum.DateTime,
        *argv: str,
        settings: Mapping[str, str] | None = None,
    ) -> RunResult:
        """`marketing-elt <argv>` in-process with "now" pinned to ``at``; stdout and stderr captured."""
        before = len(sandbox.request_log)
        out, err = io.StringIO(), io.StringIO()
        with (
            environment(self.env(sandbox, settings or {})),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
            clock.pinned(at),
        ):
            try:
                code = main(list(argv))
            except SystemExit as exc:  # argparse
                code = int(exc.code or 0)
        log = sandbox.request_log[before:]
        statuses = Counter(str(entry["status"]) for entry in log)
        result = RunResult(code, out.getvalue(), err.getvalue(), len(log), sum(bool(e["faults"]) for e in log))
        result.statuses = dict(statuses)
        if os.environ.get("RELIABILITY_ECHO"):
            print(result.out, result.err, sep="\n", file=sys.__stderr__)
        return result

    def tables(self, names: Sequence[str] | None = None) -> dict[str, Table]:
        """Every data table (or ``names``), without dlt's ids and load times."""
        if not self.db.exists():
            return {}
        with duckdb.connect(str(self.db), read_only=True) as con:
            found = [
                name
                for (name,) in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1", [DATASET]
                ).fetchall()
                if not name.startswith("_") and (names is None or name in names)
            ]
            return {name: _read_table(con, name) for name in found}

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.execute(sql, list(params)).fetchall()


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: Counter[tuple[Any, ...]]

    def without(self, columns: Sequence[str]) -> Table:
        keep = [i for i, c in enumerate(self.columns) if c not in columns]
        rows: Counter[tuple[Any, ...]] = Counter()
        for row, n in self.rows.items():
            rows[tuple(row[i] for i in keep)] += n
        return Table(tuple(self.columns[i] for i in keep), rows)

    def where(self, column: str, keep: Any) -> Table:
        """Only the rows whose ``column`` value satisfies ``keep(value)``."""
        i = self.columns.index(column)
        return Table(self.columns, Counter({row: n for row, n in self.rows.items() if keep(row[i])}))

    def __len__(self) -> int:
        return sum(self.rows.values())


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return value


def _read_table(con: duckdb.DuckDBPyConnection, name: str) -> Table:
    columns = [
        column
        for (column,) in con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
            "ORDER BY column_name",
            [DATASET, name],
        ).fetchall()
        if not column.startswith(IGNORED_COLUMN_PREFIXES) and column not in IGNORED_COLUMNS
    ]
    quoted = ", ".join(f'"{c}"' for c in columns)
    rows = con.execute(f'SELECT {quoted} FROM {DATASET}."{name}"').fetchall()
    return Table(tuple(columns), Counter(tuple(_hashable(v) for v in row) for row in rows))


def diff(subject: Mapping[str, Table], reference: Mapping[str, Table], limit: int = 3) -> list[str]:
    """What differs, in words (empty when equal)."""
    problems: list[str] = []
    for name in sorted(set(subject) | set(reference)):
        if name not in subject:
            problems.append(f"{name}: missing ({len(reference[name])} rows in the reference)")
            continue
        if name not in reference:
            problems.append(f"{name}: not in the reference ({len(subject[name])} rows)")
            continue
        a, b = subject[name], reference[name]
        if a.columns != b.columns:
            extra, missing = sorted(set(a.columns) - set(b.columns)), sorted(set(b.columns) - set(a.columns))
            problems.append(f"{name}: columns differ, extra {extra}, missing {missing}")
            continue
        if a.rows != b.rows:
            only_a, only_b = a.rows - b.rows, b.rows - a.rows
            problems.append(
                f"{name}: {len(a)} rows vs {len(b)} in the reference; {sum(only_a.values())} only here, e.g. "
                f"{[dict(zip(a.columns, r, strict=True)) for r in list(only_a)[:limit]]}; "
                f"{sum(only_b.values())} only in the reference, e.g. "
                f"{[dict(zip(b.columns, r, strict=True)) for r in list(only_b)[:limit]]}"
            )
    return problems


def assert_same_warehouse(subject: Mapping[str, Table], reference: Mapping[str, Table]) -> None:
    assert reference, "the reference warehouse is empty: the comparison would prove nothing"
    assert all(len(t) for t in reference.values()), {n: len(t) for n, t in reference.items()}
    problems = diff(subject, reference)
    assert not problems, "\n".join(problems)


@dataclass(frozen=True)
class Night:
    """One simulated night: the day, the faults in force, whether the clock stands still (see the module doc)."""

    day: pendulum.Date
    faults: FaultsLike = None
    frozen: bool = False

    def prepare(self, sandbox: SandboxServer, world: World) -> None:
        sandbox.set_today(self.day)  # the clock goes back to the day's 02:00
        sandbox.configure(clock_step_ms=0 if self.frozen else world.config().clock_step_ms)
        sandbox.set_faults(self.faults)


def run_night(
    warehouse: Warehouse,
    sandbox: SandboxServer,
    world: World,
    night: Night,
    sources: Sequence[str] = HUBSPOT,
    settings: Mapping[str, str] | None = None,
) -> RunResult:
    """The nightly (`marketing-elt run --sources ...`) of ``night`` at its 02:00."""
    night.prepare(sandbox, world)
    return warehouse.run(sandbox, night_of(night.day), "run", "--sources", ",".join(sources), settings=settings)


_REFERENCES: dict[Any, dict[str, Table]] = {}


def clean_reference(
    root: Path,
    world: World,
    day: pendulum.Date,
    sources: Sequence[str] = HUBSPOT,
    settings: Mapping[str, str] | None = None,
    argv: Sequence[str] | None = None,
) -> dict[str, Table]:
    """The tables after one clean run (``argv``, default the nightly) of a fresh pipeline on a fresh sandbox of
    ``world`` on ``day``, clock standing still at 02:00. Cached per (world, day, sources, settings, argv)."""
    key = (world, day, tuple(sources), tuple(sorted((settings or {}).items())), tuple(argv or ()))
    if key not in _REFERENCES:
        sandbox = world.start()
        try:
            Night(day, frozen=True).prepare(sandbox, world)
            warehouse = Warehouse(root / f"reference-{len(_REFERENCES)}")
            command = [*(argv or ("run",)), "--sources", ",".join(sources)]
            result = warehouse.run(sandbox, night_of(day), *command, settings=settings)
            assert result.code == 0, f"the clean reference run failed:\n{result.out}\n{result.err}"
            _REFERENCES[key] = warehouse.tables()
        finally:
            sandbox.stop()
    return _REFERENCES[key]


# --- shared scenario code (AttributionHub, Humblytics; usable by any source selection) ----------------------


def tables_of(tables: Mapping[str, Table], sources: Sequence[str]) -> dict[str, Table]:
    """The tables that ``sources`` load (every source's tables start with its name)."""
    return {name: table for name, table in tables.items() if name.startswith(tuple(sources))}


def faults_in(spec: str) -> int:
    """How many requests a spec of `count=`/`nth=` rules fires on (each rule must be bounded)."""
    total = 0
    for rule in filter(None, spec.split(";")):
        options = dict(item.partition("=")[::2] for item in rule.split(":", 1)[1].split(","))
        assert "count" in options or "nth" in options, f"unbounded rule {rule!r}"
        total += int(options.get("count", 1))
    return total


def assert_one_error_line_per_source(result: RunResult, sources: Sequence[str], *needles: str) -> None:
    """One `error: <source>: ...` line per failed source, each naming ``needles``, and no traceback."""
    named = sorted(line.split(":")[1].strip() for line in result.error_lines)
    assert named == sorted(sources), result.err[-3000:]
    for line in result.error_lines:
        assert all(needle in line for needle in needles), line
    assert "Traceback" not in result.out + result.err


def drifted_columns(subject: Mapping[str, Table], reference: Mapping[str, Table]) -> dict[str, set[str]]:
    """Per table, the columns the subject has and the reference has not."""
    extra = {name: set(t.columns) - set(reference[name].columns) for name, t in subject.items() if name in reference}
    return {name: columns for name, columns in extra.items() if columns}


def without_columns(tables: Mapping[str, Table], columns: Mapping[str, set[str]]) -> dict[str, Table]:
    return {name: table.without(sorted(columns.get(name, ()))) for name, table in tables.items()}


def variant_columns(tables: Mapping[str, Table]) -> dict[str, set[str]]:
    """Per table, the variant columns dlt made for values of another type (`visits__v_text`)."""
    found = {name: {c for c in t.columns if "__v_" in c} for name, t in tables.items()}
    return {name: columns for name, columns in found.items() if columns}


def unprefixed(tables: Mapping[str, Table], *prefixes: str) -> dict[str, Table]:
    """Fold each variant column back into its base column, as the value with the first matching of
    ``prefixes`` removed (typed like the base column's other values), and drop the variant columns: what a
    clean run would hold."""
    folded = {}
    for name, table in tables.items():
        variants = [c for c in table.columns if "__v_" in c and c.split("__v_")[0] in table.columns]
        pairs = [(table.columns.index(v.split("__v_")[0]), table.columns.index(v)) for v in variants]
        rows: Counter[tuple[Any, ...]] = Counter()
        for row, n in table.rows.items():
            values = list(row)
            for base, variant in pairs:
                if values[base] is None and values[variant] is not None:
                    text = str(values[variant])
                    text = next((text.removeprefix(p) for p in prefixes if text.startswith(p)), text)
                    values[base] = float(text) if "." in text else int(text)
            rows[tuple(values)] += n
        folded[name] = Table(table.columns, rows).without(variants)
    return folded


@dataclass(frozen=True)
class AsRead:
    """Tables whose days keep changing at the vendor long after they happened (an AttributionHub insights
    snapshot counts the day's visitors who convert weeks later), while the nightly re-reads only
    ``lookback_days``: older days hold the numbers as read, by design (README, Reliability). Compared in
    full from the lookback on; older rows by their ``key`` only (no gap, no duplicate)."""

    tables: tuple[str, ...]
    day: str  # the column that dates a row
    key: tuple[str, ...]
    lookback_days: int = 3

    def reduce(self, tables: Mapping[str, Table], night: pendulum.Date) -> dict[str, Table]:
        since = night.subtract(days=self.lookback_days + 1)
        return {name: self._reduce(t, since) if name in self.tables else t for name, t in tables.items()}

    def _reduce(self, table: Table, since: pendulum.Date) -> Table:
        day, keep = table.columns.index(self.day), [table.columns.index(c) for c in self.key]
        rows: Counter[tuple[Any, ...]] = Counter()
        for row, n in table.rows.items():
            if row[day] >= since:
                rows[row] += n
            else:
                rows[tuple(v if i in keep else None for i, v in enumerate(row))] = 1
        return Table(table.columns, rows)


@dataclass
class Scenario:
    """One reliability scenario's setting: the world, the sources of every night, their settings, and where
    clean references live; `night()` runs a night of the subject, `reference()` a clean run to compare with."""

    world: World
    sources: tuple[str, ...]
    settings: Mapping[str, str]
    reference_root: Path
    as_read: AsRead | None = None

    def night(self, subject: Warehouse, sandbox: SandboxServer, night: Night) -> RunResult:
        return run_night(subject, sandbox, self.world, night, sources=self.sources, settings=self.settings)

    def reference(self, day: pendulum.Date, world: World | None = None) -> dict[str, Table]:
        """One clean nightly of every source on ``day`` (``world``: the same data under other limits)."""
        return clean_reference(self.reference_root, world or self.world, day, self.sources, self.settings)

    def assert_equals_clean_run(self, subject: Warehouse, day: pendulum.Date, world: World | None = None) -> None:
        """The yardstick after the night of ``day``."""
        assert_same_warehouse(*self.comparable(subject, day, world))

    def comparable(
        self, subject: Warehouse, day: pendulum.Date, world: World | None = None
    ) -> tuple[dict[str, Table], dict[str, Table]]:
        """The subject's tables and a clean run's on ``day``, `as_read` tables reduced as it says."""
        mine, clean = subject.tables(), self.reference(day, world)
        if self.as_read is None:
            return mine, clean
        return self.as_read.reduce(mine, day), self.as_read.reduce(clean, day)

    def failed_then_completed(
        self, subject: Warehouse, sandbox: SandboxServer, faults: str, failing: Sequence[str], *needles: str
    ) -> RunResult:
        """Night 1 under ``faults`` that outlast the retries: exit 1, one clear line per ``failing`` source,
        every other source exactly a clean run's rows; night 2 (no faults, clock still) exits 0 and the
        warehouse equals one clean run on night 2. Returns night 1's result."""
        failed = self.night(subject, sandbox, Night(FIRST_NIGHT, faults=faults, frozen=True))
        assert failed.code == 1, failed.out + failed.err
        assert_one_error_line_per_source(failed, failing, *needles)
        up = [source for source in self.sources if source not in failing]
        if up:
            assert_same_warehouse(tables_of(subject.tables(), up), tables_of(self.reference(FIRST_NIGHT), up))
        done = self.night(subject, sandbox, Night(FIRST_NIGHT.add(days=1), frozen=True))
        assert done.code == 0, done.out + done.err
        self.assert_equals_clean_run(subject, FIRST_NIGHT.add(days=1))
        return failed
