"""Workers that die idle are replaced before any request reaches them; health says
NOT_SERVING while no worker is live and while the server drains."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import psutil
import pytest
import pyvips
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress import Client, PixpressError

from tests.integration.server_process import ServerProcess, start_server, worker_processes

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SMALL_JPEG = sorted(FIXTURES.rglob("*.jpg"))[0]
COMPRESS_SERVICE = "pixpress.v1.CompressService"
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


def wait_for(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def dead(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def check(address: str, service: str = "") -> int | str:
    """Health.Check on a fresh channel: the status, or the gRPC error code's name."""
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=10
            )
        except grpc.RpcError as error:
            return str(error.code().name)
    return int(response.status)


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[[int], ServerProcess]]:
    servers: list[ServerProcess] = []

    def start(workers: int) -> ServerProcess:
        args = ["--workers", str(workers), "--insecure-no-auth"]
        server = start_server(tmp_path / f"data{len(servers)}", args)
        servers.append(server)
        return server

    yield start
    for server in servers:
        for worker in worker_processes(server):
            worker.resume()
        server.stop()


def test_a_worker_killed_while_idle_fails_no_request(
    server_factory: Callable[[int], ServerProcess],
) -> None:
    server = server_factory(2)
    workers = worker_processes(server)
    assert len(workers) == 2
    victim = workers[1]
    victim.kill()
    wait_for(lambda: dead(victim), what="the killed worker to die")

    # Both workers were idle, so one of the first two requests would be given the dead one.
    with Client(server.address) as client:
        results = [client.compress(SMALL_JPEG, quality=60) for _ in range(6)]
    assert all(result.format == "jpeg" for result in results)

    def back_to_size() -> bool:
        pids = {worker.pid for worker in worker_processes(server)}
        return len(pids) == 2 and victim.pid not in pids

    wait_for(back_to_size, what="the pool to be back to 2 workers")
    assert "exited while idle" in server.log
    assert check(server.address) == SERVING


def _stop_the_replacement(server: ServerProcess, gone: set[int]) -> psutil.Process:
    """SIGSTOP the worker started after `gone` died, before it can say it is ready."""
    found: list[psutil.Process] = []

    def started() -> bool:
        found[:] = [w for w in worker_processes(server) if w.pid not in gone]
        return bool(found)

    wait_for(started, what="a replacement worker")
    found[0].suspend()
    return found[0]


def test_health_is_not_serving_while_no_worker_is_live(
    server_factory: Callable[[int], ServerProcess],
) -> None:
    server = server_factory(1)
    assert check(server.address) == check(server.address, COMPRESS_SERVICE) == SERVING
    watched: list[int] = []
    channel = grpc.insecure_channel(server.address)
    watch = health_pb2_grpc.HealthStub(channel).Watch(health_pb2.HealthCheckRequest())

    def follow() -> None:
        with contextlib.suppress(grpc.RpcError):  # cancelled at the end
            for response in watch:
                watched.append(response.status)

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    gone: set[int] = set()
    try:
        # A replacement is frozen before it is ready, so the pool has no live worker for as
        # long as the test wants. A replacement that got ready before it was frozen (a very
        # fast start) is killed in turn: the pool is then empty again.
        for _ in range(5):
            for worker in worker_processes(server):
                gone.add(worker.pid)
                worker.resume()
                worker.kill()
            frozen = _stop_the_replacement(server, gone)
            deadline = time.monotonic() + 10
            while check(server.address) != NOT_SERVING and time.monotonic() < deadline:
                time.sleep(0.05)
            if check(server.address) == NOT_SERVING:
                break
        assert check(server.address) == NOT_SERVING
        assert check(server.address, COMPRESS_SERVICE) == NOT_SERVING

        frozen.resume()
        wait_for(lambda: check(server.address) == SERVING, what="SERVING again")
        assert check(server.address, COMPRESS_SERVICE) == SERVING
        with Client(server.address) as client:
            assert client.compress(SMALL_JPEG, quality=60).format == "jpeg"
        wait_for(lambda: watched[-1:] == [SERVING] and NOT_SERVING in watched, what="Watch")
        assert watched[0] == SERVING
    finally:
        watch.cancel()
        channel.close()
        follower.join(10)


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real photo enlarged to about 14 MP: compressing it takes seconds of worker CPU."""
    photo = pyvips.Image.new_from_file(str(sorted(FIXTURES.rglob("kodim*.png"))[0]))
    return bytes(photo.resize(6).pngsave_buffer(compression=1))


def test_health_is_not_serving_while_draining(
    server_factory: Callable[[int], ServerProcess], big_png: bytes
) -> None:
    server = server_factory(1)
    [worker] = worker_processes(server)
    idle_cpu = sum(worker.cpu_times()[:2])
    results: list[object] = []

    def compress() -> None:
        try:
            with Client(server.address) as client:
                results.append(client.compress(big_png, quality=40))
        except PixpressError as error:
            results.append(error)

    thread = threading.Thread(target=compress)
    thread.start()
    try:
        # Frozen mid-job, the request stays in flight for as long as the test needs.
        wait_for(lambda: sum(worker.cpu_times()[:2]) > idle_cpu + 0.3, what="the job to start")
        worker.suspend()
        server.process.send_signal(signal.SIGTERM)
        wait_for(lambda: check(server.address) != SERVING, what="the drain to start")

        assert check(server.address) == NOT_SERVING
        assert check(server.address, COMPRESS_SERVICE) == NOT_SERVING
        with Client(server.address) as client, pytest.raises(PixpressError) as refused:
            client.compress(SMALL_JPEG, quality=60)
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        assert "shutting down" in refused.value.message
        assert server.process.poll() is None
    finally:
        worker.resume()
        thread.join(120)
    assert server.process.wait(60) == 0, server.log
    assert len(results) == 1 and not isinstance(results[0], PixpressError), results
