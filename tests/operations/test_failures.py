"""Every failure one clear line, before any request where it can be (issue 14): exit 2, one sentence naming the
key or file and what to do, no vendor request, no state created."""

from __future__ import annotations

import os
import socket

import pytest

from .conftest import HUBSPOT, Project


def assert_refused(project: Project, result, *needles: str) -> None:
    assert result.code == 2, result.out + result.err
    assert len(result.err.strip().splitlines()) == 1 and result.err.startswith("error: "), result.err
    for needle in needles:
        assert needle in result.err, result.err
    assert "Traceback" not in result.err + result.out
    assert project.sandbox.request_log == [], "a vendor request was sent"
    assert not project.warehouse.exists(), "the warehouse was created"
    assert not (project.data_dir / "pipelines").exists(), "pipeline state was created"


@pytest.mark.parametrize(
    ("file", "text", "where"),
    [
        ("config.toml", '[sources.hubspot\nbase_url = "https://api.hubapi.com"\n', "(at line 1, column 17)"),
        ("secrets.toml", "[sources.hubspot]\naccess_token = = 'x'\n", "(at line 2, column 16)"),
    ],
)
def test_a_broken_dlt_toml_file_is_named_with_the_line(project, file, text, where) -> None:
    (project.root / ".dlt" / file).write_text(text)
    for command in (("run", "--sources", HUBSPOT), ("status",)):
        result = project.run(*command)
        assert_refused(project, result, f"./.dlt/{file} is not valid TOML", where, "fix that line")


def test_a_data_dir_that_cannot_be_created_is_refused(project) -> None:
    blocker = project.root / "not-a-dir"
    blocker.write_text("")
    project.env["DLT_DATA_DIR"] = str(blocker / "dlt")
    result = project.run("run", "--sources", HUBSPOT)
    assert_refused(project, result, f"DLT_DATA_DIR {blocker / 'dlt'} cannot be created", "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_data_dir_is_refused(project) -> None:
    read_only = project.root / "ro"
    read_only.mkdir(mode=0o555)
    project.env["DLT_DATA_DIR"] = str(read_only / "dlt")
    result = project.run("run", "--sources", HUBSPOT)
    assert_refused(project, result, "is not writable", "point DLT_DATA_DIR at a writable directory")


@pytest.mark.parametrize("token", ["sandbox-hubspot-token\n", " sandbox-hubspot-token"])
def test_a_token_with_surrounding_whitespace_is_refused_not_retried(project, token) -> None:
    project.env["SOURCES__HUBSPOT__ACCESS_TOKEN"] = token
    result = project.run("run", "--sources", HUBSPOT)
    assert_refused(
        project, result, "error: SOURCES__HUBSPOT__ACCESS_TOKEN has whitespace or a line break at its start or end"
    )
    assert "sandbox-hubspot-token" not in result.err


@pytest.mark.parametrize("url", ["ftp://api.hubapi.com", "api.hubapi.com", "https://api.hubapi.com:0"])
def test_a_base_url_that_is_not_http_is_refused(project, url) -> None:
    project.env["SOURCES__HUBSPOT__BASE_URL"] = url
    result = project.run("run", "--sources", HUBSPOT)
    assert_refused(project, result, f"error: SOURCES__HUBSPOT__BASE_URL is '{url}', which is not an http(s) URL")


def test_hard_delete_takes_true_or_false(project) -> None:
    project.env["SOURCES__HUBSPOT__HARD_DELETE"] = "maybe"
    result = project.run("run", "--sources", HUBSPOT)
    assert_refused(project, result)
    assert result.err.strip() == (
        "error: hubspot_leads: SOURCES__HUBSPOT__HARD_DELETE (or [sources.hubspot] hard_delete) takes true or false, "
        "not 'maybe'."
    )


def test_sandbox_on_a_port_in_use_is_one_line(project) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = project.run("sandbox", "--port", str(port))
    assert result.code == 2
    assert result.err.strip() == (
        f"error: Port {port} on 127.0.0.1 is already in use (another sandbox?): choose another --port, "
        "or --port 0 for a free one."
    )
