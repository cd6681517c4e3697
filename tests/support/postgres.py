"""A real, throwaway PostgreSQL server for tests, started from the machine's Debian binaries.

initdb refuses to run as root, so as root the server runs as the `postgres` user. Locally, when no server
can be started, tests skip with the reason; in CI (`CI=true`) that is a failure, never a silent skip.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bin_dir() -> Path:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.path.exists(os.path.join(candidate, "initdb")):
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable("no PostgreSQL server binaries (initdb) found; install postgresql")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yield a DSN for a fresh database on a private server; stop and delete it afterwards."""
    bin_dir = _bin_dir()
    root = Path(tempfile.mkdtemp(prefix="marketing-elt-pg-"))
    data, port = root / "data", _free_port()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")

    def run(argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(_as_server_user(argv), capture_output=True, text=True, timeout=120, check=False)

    try:
        init = run([str(bin_dir / "initdb"), "-D", str(data), "-U", "loader", "--auth=trust", "-E", "UTF8"])
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[:300]}")
        opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        start = run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(root / "log"), "-w", "start"])
        if start.returncode != 0:
            raise PostgresUnavailable(f"pg_ctl start failed: {start.stderr.strip()[:300]}")
        try:
            created = run([str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "loader", "analytics"])
            if created.returncode != 0:
                raise PostgresUnavailable(f"createdb failed: {created.stderr.strip()[:300]}")
            # trust auth ignores the password, but dlt requires one in the credentials
            yield f"postgresql://loader:loader@127.0.0.1:{port}/analytics"
        finally:
            run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"])
            time.sleep(0.1)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def postgres_or_skip() -> Iterator[str]:
    """`postgres_server()` for a fixture: skipped locally when no server can start, a failure in CI (`CI=true`),
    where a skipped Postgres test would hide a broken destination."""
    import pytest

    server = postgres_server()
    try:
        dsn = server.__enter__()
    except PostgresUnavailable as exc:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI needs a PostgreSQL server: {exc}")
        pytest.skip(f"no PostgreSQL server: {exc}")
    try:
        yield dsn
    finally:
        server.__exit__(None, None, None)
