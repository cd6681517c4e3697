"""The memory settings README "Performance" needs are the defaults an operator gets without doing anything,
and a user's own setting wins over each of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dlt
import pytest

from pipelines import cli
from pipelines.warehouse import DUCKDB_GLOBAL_CONFIG, apply_load_defaults, duckdb_global_config, make_destination
from sources.common.errors import ConfigError

ROOT = Path(__file__).resolve().parents[3]
GLOBAL_CONFIG_ENV = "DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG"


def _settings(tmp_path: Path) -> tuple[str, bool]:
    """memory_limit and preserve_insertion_order of the connection a real load opens."""
    pipeline = dlt.pipeline(
        pipeline_name="memory_defaults",
        destination=make_destination("duckdb"),
        dataset_name="d",
        pipelines_dir=str(tmp_path / "pipelines"),
    )
    pipeline.run([{"a": 1}], table_name="t")
    with pipeline.sql_client() as client:
        rows = client.execute_sql("SELECT current_setting('memory_limit'), current_setting('preserve_insertion_order')")
    assert rows is not None
    return str(rows[0][0]), bool(rows[0][1])


def test_a_load_runs_with_the_duckdb_memory_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    monkeypatch.delenv(GLOBAL_CONFIG_ENV, raising=False)
    assert _settings(tmp_path) == ("183.1 MiB", False)  # DuckDB shows 192MB in MiB


def test_a_duckdb_key_the_user_sets_wins_and_the_others_stay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(tmp_path / "w.duckdb"))
    monkeypatch.setenv(GLOBAL_CONFIG_ENV, '{"memory_limit": "512MB"}')
    assert duckdb_global_config() == {**DUCKDB_GLOBAL_CONFIG, "memory_limit": "512MB"}
    assert _settings(tmp_path) == ("488.2 MiB", False)


def test_a_malformed_duckdb_setting_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(GLOBAL_CONFIG_ENV, "256MB")
    with pytest.raises(ConfigError, match="must be a JSON object"):
        duckdb_global_config()


def test_load_workers_default_to_one_unless_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD__WORKERS", "3")
    apply_load_defaults()
    assert os.environ["LOAD__WORKERS"] == "3"
    monkeypatch.delenv("LOAD__WORKERS")  # set, then removed: monkeypatch restores the original afterwards
    monkeypatch.setattr(dlt.config, "get", lambda key, *_: None)  # neither config.toml nor env sets it
    apply_load_defaults()
    assert os.environ["LOAD__WORKERS"] == "1"


def test_the_cli_sets_the_system_arrow_pool_before_pyarrow_unless_the_user_chose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Importing the CLI must not import pyarrow: the pool is read once, at pyarrow's import.
    code = "import sys, pipelines.cli; sys.exit('pyarrow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0
    monkeypatch.delenv(cli.ARROW_POOL_ENV, raising=False)
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert os.environ[cli.ARROW_POOL_ENV] == "system"
    monkeypatch.setenv(cli.ARROW_POOL_ENV, "jemalloc")
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    assert os.environ[cli.ARROW_POOL_ENV] == "jemalloc"
