"""The scheduling recipes in deploy/, each checked as far as this machine allows.

- cron: every schedule line has five valid time fields, a user and the nightly command;
- systemd: `systemd-analyze verify` accepts the service and the timer (paths pointed at this checkout,
  since it checks that the binary exists), and the timer's calendar expression;
- GitHub Actions: the workflow validates against the GitHub workflow JSON schema that check-jsonschema
  vendors (offline), and an invalid one does not;
- Airflow: the DAG imports in a real Airflow with no import errors, when MARKETING_ELT_AIRFLOW_PYTHON names
  a Python that has Airflow and this project installed (too big for the dev install; skipped otherwise).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CLI = Path(sys.executable).with_name("marketing-elt")

_FIELD = r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*"
CRON_TIME = re.compile(rf"^{_FIELD}$")
RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


def test_cron_lines_are_valid() -> None:
    lines = [
        line
        for line in (DEPLOY / "cron" / "marketing-elt.cron").read_text().splitlines()
        if line.strip() and not line.startswith("#") and not re.match(r"^[A-Z_]+=", line)
    ]
    assert lines, "no schedule line"
    for line in lines:
        fields = line.split(None, 6)
        assert len(fields) == 7, line  # five time fields, the user, the command (/etc/cron.d format)
        for value, (low, high) in zip(fields[:5], RANGES, strict=True):
            assert CRON_TIME.match(value), (line, value)
            for number in re.findall(r"\d+", value):
                assert low <= int(number) <= high or "/" in value, (line, value)
        assert "marketing-elt run" in fields[6] and "marketing-elt report" in fields[6]
        assert fields[6].startswith("cd /"), "dlt reads .dlt/ from the working directory"


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    assert CLI.exists(), CLI
    for unit in ("marketing-elt.service", "marketing-elt.timer"):
        text = (DEPLOY / "systemd" / unit).read_text()
        text = text.replace("/opt/marketing-elt/.venv/bin/marketing-elt", str(CLI))
        text = re.sub(r"^(User|Group)=.*$", r"\1=root", text, flags=re.MULTILINE)
        (tmp_path / unit).write_text(text)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(tmp_path / "marketing-elt.service"), str(tmp_path / "marketing-elt.timer")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in result.stderr.splitlines() if str(tmp_path) in line or "marketing-elt" in line]
    assert result.returncode == 0 and not problems, result.stderr
    calendar = re.search(r"^OnCalendar=(.+)$", (tmp_path / "marketing-elt.timer").read_text(), re.MULTILINE)
    assert calendar
    checked = subprocess.run([analyze, "calendar", calendar.group(1)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0 and "02:30:00 UTC" in checked.stdout, checked.stderr


def _check_workflow(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_github_workflow_validates(tmp_path: Path) -> None:
    workflow = DEPLOY / "github-actions.yml"
    result = _check_workflow(workflow)
    assert result.returncode == 0, result.stdout + result.stderr
    text = workflow.read_text()
    assert "marketing-elt run --destination postgres" in text and "marketing-elt report" in text
    broken = tmp_path / "broken.yml"  # the check can fail: a job without runs-on is not a workflow
    broken.write_text(text.replace("    runs-on: ubuntu-latest\n", ""))
    assert _check_workflow(broken).returncode != 0


def test_airflow_dag_imports(tmp_path: Path) -> None:
    python = os.environ.get("MARKETING_ELT_AIRFLOW_PYTHON")
    if not python:
        pytest.skip("set MARKETING_ELT_AIRFLOW_PYTHON to a Python with apache-airflow and this project installed")
    script = (
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DEPLOY / 'airflow')!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "dag = bag.dags['marketing_elt_nightly']\n"
        "print(sorted(dag.task_ids))\n"
    )
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DEPLOY / "airflow"),
    }
    result = subprocess.run([python, "-c", script], capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "'reporting_views'" in result.stdout and "'freshness'" in result.stdout
    for source in ("hubspot_analytics", "hubspot_leads", "attributionhub", "humblytics"):
        assert f"'{source}.marketing_elt_{source}'" in result.stdout
