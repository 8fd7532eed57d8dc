"""Start-up, limits that need their own server, worker death and graceful shutdown."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import pyvips
from pixpress import Client, PixpressError

from tests.integration.server_process import ServerProcess, start_server, worker_processes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real photo enlarged to about 14 MP: compressing it takes a few seconds."""
    photo = pyvips.Image.new_from_file(str(sorted(FIXTURES.rglob("kodim*.png"))[0]))
    return bytes(photo.resize(6).pngsave_buffer(compression=1))


@pytest.fixture
def own_server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[ServerProcess]:
    marker = request.node.get_closest_marker("server_args")
    args = list(marker.args) if marker else []
    server = start_server(tmp_path / "data", ["--workers", "1", "--insecure-no-auth", *args])
    yield server
    server.stop()


def test_listening_line_and_env_twin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    server = start_server(tmp_path / "data", ["--workers", "1", "--insecure-no-auth"])
    try:
        host, port = server.address.rsplit(":", 1)
        assert host == "127.0.0.1"
        assert int(port) > 0
    finally:
        assert server.stop() == 0


@pytest.mark.server_args("--memory-budget", "8MiB")
def test_request_above_the_whole_memory_budget_is_refused(own_server: ServerProcess) -> None:
    with Client(own_server.address) as client, pytest.raises(PixpressError) as raised:
        client.compress(sorted(FIXTURES.rglob("kodim*.png"))[0], quality=70)
    assert raised.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "--memory-budget" in raised.value.message


def test_a_worker_that_dies_fails_only_its_request(
    own_server: ServerProcess, big_png: bytes
) -> None:
    errors: list[BaseException] = []

    def compress() -> None:
        try:
            with Client(own_server.address) as client:
                client.compress(big_png, quality=40)
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=compress)
    thread.start()
    [worker] = worker_processes(own_server)
    time.sleep(2.0)  # upload done, the worker is busy
    worker.kill()
    thread.join(60)
    assert len(errors) == 1 and isinstance(errors[0], PixpressError), errors
    assert errors[0].code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
    with Client(own_server.address) as client:
        result = client.compress(sorted(FIXTURES.rglob("*.jpg"))[0], quality=60)
    assert result.format == "jpeg"


def test_sigterm_drains_in_flight_requests_then_exits_zero(
    own_server: ServerProcess, big_png: bytes
) -> None:
    results: list[object] = []

    def compress() -> None:
        with Client(own_server.address) as client:
            results.append(client.compress(big_png, quality=40))

    thread = threading.Thread(target=compress)
    thread.start()
    time.sleep(1.5)
    own_server.process.send_signal(signal.SIGTERM)
    thread.join(120)
    assert own_server.process.wait(60) == 0, own_server.log
    assert len(results) == 1, own_server.log
