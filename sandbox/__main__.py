"""``python -m sandbox``: run the sandbox in the foreground (``marketing-elt sandbox`` does the same)."""

from __future__ import annotations

import argparse

from sandbox.faults import parse_spec
from sandbox.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed on start)")
    parser.add_argument("--today", default=None, help="simulated today, YYYY-MM-DD (default: the real date)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--latency-ms", type=float, default=0.0, help="fixed latency added to every request")
    parser.add_argument("--faults", default=None, help="fault spec; grammar in sandbox/faults.py")
    args = parser.parse_args(argv)
    if args.faults:
        parse_spec(args.faults)  # fail before binding the port
    return serve(args.port, args.today, args.seed, args.latency_ms, args.faults)


if __name__ == "__main__":
    raise SystemExit(main())
