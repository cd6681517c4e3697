"""`marketing-elt`: nightly runs, backfills, the sandbox, the demo and status.

Exit codes: 0 success, 1 a source failed, 2 bad input or configuration (refused before any request).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sources.common.errors import MarketingEltError
from sources.common.redaction import install_log_redaction

from . import registry

if TYPE_CHECKING:
    from .validation import DateRange

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2

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

    commands.add_parser(
        "demo",
        help="start the sandbox, run the nightly into the local DuckDB file, print what landed",
        description="Start the sandbox on a free port, run the nightly for all sources, print what landed.",
    )

    status = commands.add_parser(
        "status",
        help="last load, cursors and rows per source",
        description="Last load, cursors and rows per source.",
    )
    status.add_argument("--sources", help=SOURCES_HELP)
    status.add_argument("--destination", default="duckdb", help="duckdb (default), postgres or bigquery")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install_log_redaction()
    try:
        return COMMANDS[args.command](args)
    except MarketingEltError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    return _run(args, None)


def cmd_backfill(args: argparse.Namespace) -> int:
    from .validation import parse_range

    return _run(args, parse_range(args.start, args.end))


def _run(args: argparse.Namespace, date_range: DateRange | None) -> int:
    """Validate everything, build every source, then run: bad input never reaches a vendor or dlt state."""
    from .report import format_run_report
    from .runner import prepare, run_sources
    from .validation import check_config, check_destination, parse_destination, parse_sources

    specs = parse_sources(args.sources)
    destination = parse_destination(args.destination)
    check_destination(destination)
    check_config(specs)
    prepared = prepare(specs, date_range)
    report = run_sources(prepared, destination=destination, show_progress=True)
    print(format_run_report(report))
    for result in report.results:
        if not result.ok:
            print(f"error: {result.error}", file=sys.stderr)
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
    serve(port=args.port, today=today, seed=args.seed, latency_ms=args.latency_ms, faults=args.faults, **world)
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo()


def cmd_status(args: argparse.Namespace) -> int:
    from .status import source_status
    from .validation import parse_destination, parse_sources

    specs = parse_sources(args.sources)
    destination = parse_destination(args.destination)
    print("\n\n".join(source_status(spec, destination) for spec in specs))
    return EXIT_OK


COMMANDS = {
    "run": cmd_run,
    "backfill": cmd_backfill,
    "sandbox": cmd_sandbox,
    "demo": cmd_demo,
    "status": cmd_status,
}
