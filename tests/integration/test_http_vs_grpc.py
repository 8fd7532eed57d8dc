"""The HTTP path keeps up with gRPC: keep-alive responses are not delayed, and the
HTTP-vs-gRPC benchmark (`python -m benchmarks.http_vs_grpc --smoke`) stays runnable."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.test_bench_smoke import run_smoke
from tests.integration.test_http_compress import read_response

REQUESTS = 20
PROMPT_SECONDS = 0.030
"""Far above an idle-machine GET (~1 ms), below the ~40 ms a Nagle-held response waits."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-vs-grpc")
    process = start_server(data_dir, ["--workers", "1"])
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


def test_keep_alive_responses_are_not_held_back(server: ServerProcess) -> None:
    # Without TCP_NODELAY on the server's accepted sockets, each response after the first on
    # a connection waits for the client's delayed ACK (~40 ms on Linux) before its body.
    host, port = server.http_address.rsplit(":", 1)
    request = (
        f"GET /v1/actions HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {server.api_key}\r\n\r\n"
    ).encode()
    seconds = []
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(REQUESTS):
            started = time.perf_counter()
            connection.sendall(request)
            status, response = read_response(connection)
            seconds.append(time.perf_counter() - started)
            assert status == 200, response
    prompt = [s for s in seconds[1:] if s < PROMPT_SECONDS]
    assert len(prompt) >= (REQUESTS - 1) // 2, [round(s * 1000, 1) for s in seconds]


def test_http_vs_grpc_smoke_measures_both_paths(tmp_path: Path) -> None:
    out = tmp_path / "http-vs-grpc"
    data = run_smoke("benchmarks.http_vs_grpc", out)
    [row] = data["rows"]
    assert (row["subset"], row["concurrency"]) == ("small", 1)
    for path in ("grpc", "http"):
        measured = row[path]
        assert measured["errors"] == 0
        assert measured["passes"] == 1
        assert measured["images"] == 9
        assert measured["images_per_second"] > 0
        assert measured["server_cpu_ms_per_request"] > 0
    rate = {s["path"]: s["images"] / s["wall_seconds"] for s in data["samples"]}
    assert row["throughput_ratio"] == pytest.approx(rate["http"] / rate["grpc"])
    assert data["meta"]["overall_ratio"] == row["throughput_ratio"]
    assert {sample["path"] for sample in data["samples"]} == {"grpc", "http"}
    assert all(sample["bytes_out"] > 0 for sample in data["samples"])
    report = (out / "report.md").read_text()
    assert report.startswith("# pixpress: HTTP vs gRPC throughput")
    assert "| small (9) | 1 |" in report
    assert "Over every pair of passes: HTTP/gRPC" in report
