"""A throwaway PostgreSQL the tests start themselves: initdb in a tmp dir, 127.0.0.1, a free port.

Debian's binaries (package `postgresql`); initdb refuses root, so as root the cluster runs as
`nobody`. Missing binaries skip the test locally and fail it in CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from pixpress_server.store.notifications import APPLICATION_NAME

from tests.loopback import free_port, missing

_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
_START_TIMEOUT = 60.0


def require_postgres() -> Path:
    """The bin dir, or a skip (a failure in CI) when PostgreSQL is not installed."""
    return postgres_bin() or missing("PostgreSQL is not installed: apt-get install postgresql")


def postgres_bin() -> Path | None:
    """The newest Debian PostgreSQL bin dir, or $PIXPRESS_TEST_PG_BIN."""
    given = os.environ.get("PIXPRESS_TEST_PG_BIN")
    candidates = [Path(given)] if given else _BIN_DIRS
    return next((path for path in candidates if (path / "initdb").is_file()), None)


def _cluster_user() -> dict[str, Any]:
    """Popen arguments that drop root to `nobody` (the process itself, so signals reach it)."""
    return {"user": "nobody", "group": "nogroup", "extra_groups": []} if os.geteuid() == 0 else {}


@dataclass
class PostgresServer:
    """One running cluster; `url(name)` names a database on it (trust auth, user postgres)."""

    directory: Path
    port: int
    process: subprocess.Popen[bytes]
    command: list[str] = field(default_factory=list)
    _databases: int = field(default=0)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def new_database(self, template: str = "template0") -> str:
        """A new empty database (or a copy of `template`): its URL."""
        self._databases += 1
        name = f"db{self._databases}_{os.getpid()}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'.encode())
        return self.url(name)

    def log(self) -> str:
        path = self.directory / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def halt(self) -> None:
        """Stop the cluster, keeping its data: `resume()` starts it again on the same port."""
        if self.process.poll() is None:
            self.process.send_signal(2)  # SIGINT: the fast shutdown
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def resume(self) -> None:
        """Start the halted cluster again and wait until it accepts connections."""
        with (self.directory / "server.log").open("ab") as log:
            self.process = subprocess.Popen(
                self.command, stdout=log, stderr=subprocess.STDOUT, **_cluster_user()
            )
        _wait_until_ready(self)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.directory, ignore_errors=True)


def start_postgres() -> PostgresServer:
    """Start a cluster, or skip (fail in CI) when PostgreSQL is not installed."""
    bin_dir = require_postgres()
    directory = Path(tempfile.mkdtemp(prefix="pixpress-pg-"))
    if os.geteuid() == 0:
        shutil.chown(directory, "nobody", "nogroup")
    data = directory / "data"
    initdb = [str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    subprocess.run(
        [*initdb, "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
        **_cluster_user(),
    )
    port = free_port()
    options = {"listen_addresses": "127.0.0.1", "fsync": "off", "max_connections": "200"}
    command = [str(bin_dir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(directory)]
    for name, value in options.items():
        command += ["-c", f"{name}={value}"]
    with (directory / "server.log").open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, **_cluster_user())
    server = PostgresServer(directory, port, process, command)
    _wait_until_ready(server)
    return server


def _wait_until_ready(server: PostgresServer) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while True:
        try:
            psycopg.connect(server.url(), connect_timeout=5).close()
            return
        except psycopg.OperationalError:
            if server.process.poll() is not None or time.monotonic() > deadline:
                server_log = server.log()
                server.stop()
                raise RuntimeError(f"PostgreSQL did not start:\n{server_log}") from None
            time.sleep(0.2)


def listener_pids(database_url: str) -> list[int]:
    """Backend pids of pixpress's LISTEN connections on the database, in order."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s "
            "AND datname = current_database()",
            (APPLICATION_NAME,),
        ).fetchall()
    return sorted(row[0] for row in rows)
