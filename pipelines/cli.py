"""`marketing-elt`: nightly runs, backfills, the sandbox, the demo and status.

Exit codes: 0 success; 1 a source failed (or a bug); 2 refused before any request: bad input or configuration,
another run holds the lock, the warehouse cannot be written; 130 interrupted (Ctrl-C). `status` has its own.
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sources.common.errors import MarketingEltError
from sources.common.redaction import install_log_redaction

from . import registry
from .reporting import commands as reporting_commands

if TYPE_CHECKING:
    from .validation import DateRange

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130
log = logging.getLogger("marketing_elt")

SOURCES_HELP = (
    f"comma-separated source names, default all built sources ({', '.join(registry.available_sources())}); "
    f"known names: {', '.join(registry.SOURCES)}"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="marketing-elt",
        description="Load marketing analytics (HubSpot, AttributionHub, Humblytics) into a warehouse with dlt.",
        epilog="Configuration: .dlt/config.toml and .dlt/secrets.toml, or SOURCES__<SECTION>__<KEY> env vars.",
    )
    parser.add_argument(
        "--log-level", default="WARNING", choices=("DEBUG", "INFO", "WARNING", "ERROR"), help="log verbosity"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="the nightly incremental load", description="The nightly incremental load.")
    run.add_argument("--sources", help=SOURCES_HELP)
    run.add_argument("--destination", default="duckdb", help="duckdb (default), postgres or bigquery")

    backfill = commands.add_parser(
        "backfill",
        help="reload an inclusive date range without moving the nightly cursors",
        description="Reload an inclusive date range. Idempotent; the nightly cursors are neither read nor moved.",
    )
    backfill.add_argument("--start", required=True, help="first day, YYYY-MM-DD")
    backfill.add_argument("--end", required=True, help="last day (inclusive), YYYY-MM-DD, not after today")
    backfill.add_argument("--sources", help=SOURCES_HELP)
    backfill.add_argument("--destination", default="duckdb", help="duckdb (default), postgres or bigquery")

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the vendor simulators in the foreground",
        description="Serve the vendor simulators.",
    )
    sandbox.add_argument("--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0 picks a free one)")
    sandbox.add_argument("--today", help="simulated today, YYYY-MM-DD (default: today UTC)")
    sandbox.add_argument("--seed", type=int, default=42, help="world seed (same seed, same data)")
    sandbox.add_argument("--latency-ms", type=int, default=0, help="added latency per request")
    sandbox.add_argument("--faults", default=None, help="fault spec (README, section Sandbox)")
    sandbox.add_argument("--leads-per-day", type=int, help="HubSpot leads inserted per simulated day (default 20)")
    sandbox.add_argument(
        "--sessions-per-day", type=int, help="AttributionHub/Humblytics sessions per day (default 200)"
    )
    sandbox.add_argument("--history-days", type=int, help="days of history before today (default 400)")
    sandbox.add_argument(
        "--admin-port",
        type=int,
        help="port of the admin endpoints /_sandbox/* (default: --port + 1; never the vendor port)",
    )
    sandbox.add_argument(
        "--kind", action="store_true", help="serve the kind sandbox: no limits, no mid-run changes (README, Sandbox)"
    )

    commands.add_parser(
        "demo",
        help="start the sandbox, run the nightly into the local DuckDB file, print what landed",
        description="Start the sandbox on a free port, run the nightly for all sources, print what landed.",
    )

    status = commands.add_parser(
        "status",
        help="last nightly and backfill, cursors, rows and lag per source and resource (read-only)",
        description=(
            "Last successful nightly and backfill, cursor, rows and lag behind today per source and resource, "
            "read from the warehouse only. Exit 0 fresh, 1 a resource lags more than --max-lag days (or nothing "
            "loaded yet), 2 bad input, 3 the warehouse cannot be read."
        ),
    )
    status.add_argument("--sources", help=SOURCES_HELP)
    status.add_argument("--destination", default="duckdb", help="duckdb (default), postgres or bigquery")
    status.add_argument(
        "--max-lag",
        metavar="DAYS",
        help="exit 1 when any resource lags more than DAYS days behind today (default: MARKETING_ELT__MAX_LAG_DAYS)",
    )
    status.add_argument("--json", action="store_true", help="machine-readable output")
    reporting_commands.add_parsers(commands)  # report, publish
    return parser


# pyarrow's default allocator (mimalloc) kept ~90 MB of freed memory through a Leads load; the C allocator
# returns it (README "Performance"). pyarrow reads the variable once, when it is imported.
ARROW_POOL_ENV, ARROW_POOL_DEFAULT = "ARROW_DEFAULT_MEMORY_POOL", "system"


def main(argv: Sequence[str] | None = None) -> int:
    os.environ.setdefault(ARROW_POOL_ENV, ARROW_POOL_DEFAULT)  # before anything imports pyarrow; the user's wins
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    args.command_line = shlex.join(["marketing-elt", *words])  # for the ledger and the lock holder
    configure_logging(args.log_level)
    install_log_redaction()
    try:
        return COMMANDS[args.command](args)
    except MarketingEltError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: nothing further was started.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        return _unexpected(exc)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is now (tests swap it), in the CLI's format."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str) -> None:
    """`--log-level` for every logger, to stderr; idempotent, so in-process calls do not stack handlers."""
    root = logging.getLogger()
    root.setLevel(level)
    if not any(isinstance(handler, _StderrHandler) for handler in root.handlers):
        root.addHandler(_StderrHandler())


def _unexpected(exc: Exception) -> int:
    """Broken config files are bad input (exit 2), Ctrl-C caught by DuckDB 130; anything else is a bug (exit 1)."""
    from dlt.common.configuration.providers.toml import TomlProviderReadException

    from .failures import MarketingEltBug, find_cause, find_interrupt, one_line

    if find_interrupt(exc) is not None:  # Ctrl-C inside a DuckDB query (views refresh, status, publish)
        print("interrupted: nothing further was started.", file=sys.stderr)
        return EXIT_INTERRUPTED
    broken = find_cause(exc, TomlProviderReadException)
    if broken is not None:
        print(f"error: {config_file_message(broken)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    log.debug("unexpected failure", exc_info=True)
    if isinstance(exc, MarketingEltBug):
        print(f"error: {exc}", file=sys.stderr)
    else:
        print(
            f"error: unexpected failure, a bug in marketing-elt ({type(exc).__name__}: {one_line(str(exc), 200)}); "
            "rerun with --log-level DEBUG for the traceback and report it.",
            file=sys.stderr,
        )
    return EXIT_FAILED


def config_file_message(exc: Any) -> str:
    """Which .dlt TOML file is broken, where, and what to do (dlt names only its search paths)."""
    import tomllib

    for path in getattr(exc, "full_paths", []):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as handle:
                tomllib.load(handle)
        except tomllib.TOMLDecodeError as err:
            return f"{path} is not valid TOML ({err}): fix that line (any key can also be set as an env var)."
        except OSError as err:
            return f"{path} cannot be read ({err.strerror}): fix its permissions."
    reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else "unreadable"
    return f"A .dlt TOML file ({getattr(exc, 'file_name', 'config.toml')}) is not valid TOML ({reason}): fix it."


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, None)


def cmd_backfill(args: argparse.Namespace) -> int:
    from .validation import parse_range

    return _run(args, parse_range(args.start, args.end))


def _run(args: argparse.Namespace, date_range: DateRange | None) -> int:
    """Validate everything and build every source, take the run lock, check the warehouse, then run.

    Bad input never reaches a vendor or dlt state; a second run is refused before it touches anything.
    """
    from dlt.common.pipeline import get_dlt_pipelines_dir

    from .lock import run_lock
    from .preflight import check_warehouse, check_warehouse_location
    from .report import format_run_report
    from .reporting import publish_after_run
    from .runner import prepare, run_sources
    from .source_run import RunContext
    from .validation import check_config, check_data_dir, check_destination, parse_destination, parse_sources
    from .warehouse import duckdb_path

    specs = parse_sources(args.sources)
    destination = parse_destination(args.destination)
    check_destination(destination)
    check_config(specs)
    prepared = prepare(specs, date_range)
    data_dir = Path(get_dlt_pipelines_dir()).parent
    check_data_dir(data_dir)
    check_warehouse_location(destination)
    context = RunContext(command=args.command_line, backfill=date_range)
    with run_lock(data_dir, duckdb_path() if destination == "duckdb" else None, context.command) as taken_over:
        check_warehouse(destination)
        report = run_sources(prepared, destination=destination, show_progress=True, context=context)
        report.notes += publish_after_run(destination)
    report.notes[:0] = taken_over
    print(format_run_report(report))
    for result in report.results:
        if not result.ok:
            print(f"error: {result.error}", file=sys.stderr)
    if report.interrupted_by is not None:
        return 128 + report.interrupted_by
    return EXIT_OK if report.ok else EXIT_FAILED


def cmd_sandbox(args: argparse.Namespace) -> int:
    from sandbox.faults import FaultSpecError, parse_spec
    from sandbox.server import serve
    from sources.common.dates import parse_date
    from sources.common.errors import ConfigError

    today = parse_date(args.today, "--today") if args.today else None
    if args.faults:
        try:
            parse_spec(args.faults)
        except FaultSpecError as exc:
            raise ConfigError(f"--faults is not a fault spec ({exc}): see README, section Sandbox.") from None
    world = {
        key: value
        for key, value in (
            ("leads_per_day", args.leads_per_day),
            ("sessions_per_day", args.sessions_per_day),
            ("history_days", args.history_days),
        )
        if value is not None
    }
    for key, value in world.items():
        if value < 0:
            raise ConfigError(f"--{key.replace('_', '-')} must be 0 or more, got {value}.")
    try:
        serve(
            port=args.port,
            today=today,
            seed=args.seed,
            latency_ms=args.latency_ms,
            faults=args.faults,
            admin_port=args.admin_port,
            hard=not args.kind,
            **world,
        )
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ConfigError(
            f"Port {args.port} on 127.0.0.1 is already in use (another sandbox?): choose another --port, "
            "or --port 0 for a free one."
        ) from None
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()


def cmd_status(args: argparse.Namespace) -> int:
    """Read-only; exit 0 fresh, 1 stale (more than --max-lag), 2 bad input, 3 the warehouse cannot be read."""
    import dlt

    from .status import EXIT_UNREADABLE, collect, render_json, render_text, stale_line
    from .validation import check_destination, parse_destination, parse_max_lag, parse_sources

    specs = parse_sources(args.sources)
    destination = parse_destination(args.destination)
    check_destination(destination)
    if args.max_lag is not None:
        max_lag = parse_max_lag(args.max_lag)
    else:
        max_lag = parse_max_lag(dlt.config.get("marketing_elt.max_lag_days"), "MARKETING_ELT__MAX_LAG_DAYS")
    report = collect(specs, destination, max_lag)
    if args.json:
        print(render_json(report))
    elif report.exit_code != EXIT_UNREADABLE:
        print(render_text(report))
    if report.exit_code == EXIT_UNREADABLE:
        print(f"error: {report.message}", file=sys.stderr)
    stale = stale_line(report)
    if stale:
        print(stale, file=sys.stderr)
    return report.exit_code


COMMANDS = {
    "run": cmd_run,
    "backfill": cmd_backfill,
    "sandbox": cmd_sandbox,
    "demo": cmd_demo,
    "status": cmd_status,
    "report": reporting_commands.cmd_report,
    "publish": reporting_commands.cmd_publish,
}
