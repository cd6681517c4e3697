"""The CLI refuses bad input with one sentence, before any request or pipeline state, and documents itself."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.cli import build_parser, main

BAD_INPUT = [
    pytest.param(["backfill", "--start", "2026-13-01", "--end", "2026-11-10"], "--start", id="malformed-month"),
    pytest.param(["backfill", "--start", "2026-02-30", "--end", "2026-03-10"], "--start", id="impossible-day"),
    pytest.param(["backfill", "--start", "2026-1-5", "--end", "2026-01-10"], "--start", id="not-iso"),
    pytest.param(["backfill", "--start", "2026-11-10", "--end", "2026-11-01"], "after --end", id="start-after-end"),
    pytest.param(["backfill", "--start", "2026-11-10", "--end", "2026-12-31"], "future", id="future-end"),
    pytest.param(["run", "--sources", "hubspot_analytics,nope"], "Unknown source 'nope'", id="unknown-source"),
    pytest.param(["run", "--sources", " , "], "--sources is empty", id="empty-sources"),
    pytest.param(["run", "--destination", "oracle"], "Unknown destination 'oracle'", id="unknown-destination"),
    pytest.param(["run", "--destination", "postgres"], "DESTINATION__POSTGRES__CREDENTIALS", id="no-postgres-creds"),
    pytest.param(
        ["backfill", "--start", "2026-11-01", "--end", "2026-11-02", "--destination", "bigquery"],
        "BigQuery client is not installed",
        id="no-bigquery-client",
    ),
]


@pytest.mark.parametrize(("argv", "needle"), BAD_INPUT)
def test_bad_input_is_refused_before_any_request_or_state(sandbox, warehouse, cli, argv, needle) -> None:
    result = cli(*argv)
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.err
    assert "Traceback" not in result.err + result.out
    assert sandbox.request_log == []
    assert not warehouse.data_dir.exists(), "pipeline state was created for refused input"
    assert not warehouse.path.exists()


@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_or_empty_secret_is_refused(sandbox, warehouse, cli, monkeypatch, value) -> None:
    if value is None:
        monkeypatch.delenv("SOURCES__HUBSPOT__ACCESS_TOKEN")
    else:
        monkeypatch.setenv("SOURCES__HUBSPOT__ACCESS_TOKEN", value)
    result = cli("run", "--sources", "hubspot_leads")
    assert result.code == 2
    assert result.err.strip() == (
        "error: Missing secret access_token for hubspot_leads: set SOURCES__HUBSPOT__ACCESS_TOKEN "
        "or [sources.hubspot] access_token in .dlt/secrets.toml."
    )
    assert sandbox.request_log == []
    assert not warehouse.data_dir.exists()


COMMANDS = ("run", "backfill", "sandbox", "demo", "status", "report", "publish")


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: marketing-elt {command}")


def test_top_level_help_lists_every_command_by_name() -> None:
    # The listed subcommands themselves, not the prose: "run" also appears in other commands' help texts.
    text = build_parser().format_help()
    listed = tuple(re.findall(r"^    ([a-z]+) ", text, flags=re.MULTILINE))
    assert listed == COMMANDS, text


def test_python_dash_m_and_console_script_agree() -> None:
    module = subprocess.run([sys.executable, "-m", "pipelines", "--help"], capture_output=True, text=True, check=True)
    script = Path(sys.executable).with_name("marketing-elt")  # installed by pyproject's [project.scripts]
    console = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=True)
    assert module.stdout.startswith("usage: marketing-elt")
    assert console.stdout == module.stdout


def test_sandbox_refuses_a_bad_fault_spec(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--faults", "hubspot_leads:explode"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --faults is not a fault spec") and "Traceback" not in err


def test_sandbox_refuses_negative_scale(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--port", "0", "--leads-per-day", "-1"]) == 2
    assert capsys.readouterr().err.strip() == "error: --leads-per-day must be 0 or more, got -1."


def test_sandbox_command_serves_in_the_foreground_until_sigterm() -> None:
    """`marketing-elt sandbox --port 0` prints its URL, answers as the vendor, and stops cleanly on SIGTERM."""
    import signal

    import httpx

    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "sandbox", "--port", "0", "--today", "2026-11-20", "--leads-per-day", "3"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        assert line.startswith("sandbox listening on http://127.0.0.1:"), line
        base_url = line.split()[3]
        leads = httpx.get(
            f"{base_url}/leads/v1/list",
            params={"access_token": "sandbox-hubspot-token", "max": 100, "timePivot": "insertedAt"},
            timeout=10,
        )
        assert leads.status_code == 200 and len(leads.json()) == 100
        assert httpx.get(f"{base_url}/leads/v1/list", params={"access_token": "wrong"}, timeout=10).status_code == 401
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
