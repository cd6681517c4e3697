"""`python -m tests.operations.pinned_cli NOW ARGS...`: the real `marketing-elt` CLI in its own process, with
the project clock pinned to NOW (ISO-8601) through `clock.pinned`, so a test can run, kill or lock a real
process on the sandbox's simulated day without faking the process clock."""

from __future__ import annotations

import sys

import pendulum

from pipelines.cli import main
from sources.common import clock

if __name__ == "__main__":
    with clock.pinned(pendulum.parse(sys.argv[1])):
        sys.exit(main(sys.argv[2:]))
