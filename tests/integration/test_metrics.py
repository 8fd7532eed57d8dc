"""Prometheus metrics (`--metrics-port`) of a real server: requests by edge, call and code,
bytes and stage latencies by format, actions by terminal status, gauges, worker restarts, the
background queue's depth; `/metrics` only on its own port, and none when it is off (default)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import grpc
import httpx
import psutil
import pytest
import pyvips
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress import Client, PixpressError
from pixpress.v1 import compress_pb2, compress_pb2_grpc
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.replicas import start_replicas, stop_all, store_key
from tests.integration.server_process import (
    ServerProcess,
    create_key,
    http_client,
    keyed_channel,
    start_server,
    worker_processes,
)
from tests.integration.server_process import metrics_address as printed_metrics_address
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
COMPRESS = "/pixpress.v1.CompressService/Compress"
MAX_QUEUE = 17
WAIT = 60.0
CHUNK = 256 * 1024

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("metrics")
    process = start_server(
        data_dir,
        [
            "--workers",
            "1",
            "--metrics-port",
            "0",
            "--max-queue",
            str(MAX_QUEUE),
            "--background-slots",
            "1",
        ],
    )
    process.api_key = create_key(data_dir, "alice")
    yield process
    assert process.stop() == 0, process.log


@pytest.fixture(scope="module")
def metrics_address(server: ServerProcess) -> str:
    """HOST:PORT of /metrics: the line printed right after the HTTP API's."""
    return printed_metrics_address(server)


@pytest.fixture(scope="module")
def big_png() -> bytes:
    """A real photo enlarged to about 14 MP: compressing it takes seconds of worker CPU."""
    photo = pyvips.Image.new_from_file(str(FIXTURES / "png" / "kodim23.png"))
    return bytes(photo.resize(6).pngsave_buffer(compression=1))


def scrape(address: str) -> Samples:
    response = httpx.get(f"http://{address}/metrics", timeout=WAIT)
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_a_grpc_compress_moves_requests_bytes_stages_and_actions(
    server: ServerProcess, metrics_address: str
) -> None:
    before = scrape(metrics_address)
    with Client(server.address, api_key=server.api_key) as client:
        result = client.compress(JPEG, quality=75)
    after = scrape(metrics_address)

    call = {"edge": "grpc", "call": COMPRESS}
    assert moved(before, after, "pixpress_requests_total", **call, code="OK") == 1
    assert moved(before, after, "pixpress_request_duration_seconds_count", **call) == 1
    assert moved(before, after, "pixpress_request_duration_seconds_sum", **call) > 0
    assert moved(before, after, "pixpress_input_bytes_total", format="jpeg") == len(JPEG)
    assert moved(before, after, "pixpress_output_bytes_total", format="jpeg") == (
        result.output_size
    )
    assert moved(before, after, "pixpress_actions_ended_total", status="succeeded") == 1
    stages = {stage.name for stage in result.stages}
    assert {"decode", "encode"} <= stages
    for stage in stages:
        labels = {"stage": stage, "format": "jpeg"}
        assert moved(before, after, "pixpress_stage_duration_seconds_count", **labels) >= 1
        assert moved(before, after, "pixpress_stage_duration_seconds_bucket", **labels, le="+Inf")


def test_an_http_compress_is_counted_by_route_template(
    server: ServerProcess, metrics_address: str
) -> None:
    before = scrape(metrics_address)
    with http_client(server) as http:
        response = http.post("/v1/compress", params={"quality": 70}, content=PNG)
    assert response.status_code == 200, response.text
    after = scrape(metrics_address)

    call = {"edge": "http", "call": "POST /v1/compress"}
    assert moved(before, after, "pixpress_requests_total", **call, code="OK") == 1
    assert moved(before, after, "pixpress_request_duration_seconds_count", **call) == 1
    assert moved(before, after, "pixpress_input_bytes_total", format="png") == len(PNG)
    assert moved(before, after, "pixpress_output_bytes_total", format="png") == len(
        response.content
    )
    assert moved(before, after, "pixpress_actions_ended_total", status="succeeded") == 1
    assert not moved(
        before, after, "pixpress_requests_total", edge="grpc", call=COMPRESS, code="OK"
    )


def test_failed_requests_carry_their_grpc_status_name(
    server: ServerProcess, metrics_address: str
) -> None:
    before = scrape(metrics_address)
    with Client(server.address, api_key=server.api_key) as client:
        with pytest.raises(PixpressError) as bad_image:
            client.compress(b"not an image at all", quality=75)
        assert bad_image.value.code.name == "INVALID_ARGUMENT"
    with Client(server.address, api_key="pxp_not-a-key") as client:
        with pytest.raises(PixpressError) as bad_key:
            client.compress(JPEG, quality=75)
        assert bad_key.value.code.name == "UNAUTHENTICATED"
    with http_client(server) as http:
        assert http.post("/v1/compress", content=b"still not an image").status_code == 400
        assert http.get("/v1/no-such-thing").status_code == 404
        action = http.get("/v1/actions/00000000-0000-0000-0000-000000000000")
        assert action.status_code in {400, 404}, action.text
    with http_client(server, key="pxp_not-a-key") as http:
        assert http.post("/v1/compress", content=PNG).status_code == 401
    after = scrape(metrics_address)

    grpc_call = {"edge": "grpc", "call": COMPRESS}
    http_call = {"edge": "http", "call": "POST /v1/compress"}
    total = "pixpress_requests_total"
    assert moved(before, after, total, **grpc_call, code="INVALID_ARGUMENT") == 1
    assert moved(before, after, total, **grpc_call, code="UNAUTHENTICATED") == 1
    assert moved(before, after, total, **http_call, code="INVALID_ARGUMENT") == 1
    assert moved(before, after, total, **http_call, code="UNAUTHENTICATED") == 1
    assert moved(before, after, total, edge="http", call="GET unmatched", code="NOT_FOUND") == 1
    action_code = "NOT_FOUND" if action.status_code == 404 else "INVALID_ARGUMENT"
    action_call = {"edge": "http", "call": "GET /v1/actions/{action_id}"}
    assert moved(before, after, total, **action_call, code=action_code) == 1
    # The two bad images were actions (recorded FAILED); the refused keys never got one.
    assert moved(before, after, "pixpress_actions_ended_total", status="failed") == 2
    assert not moved(before, after, "pixpress_input_bytes_total", format="png")


def test_health_checks_are_counted_too(server: ServerProcess, metrics_address: str) -> None:
    before = scrape(metrics_address)
    with grpc.insecure_channel(server.address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(), timeout=WAIT
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING
    after = scrape(metrics_address)
    call = {"edge": "grpc", "call": "/grpc.health.v1.Health/Check", "code": "OK"}
    assert moved(before, after, "pixpress_requests_total", **call) == 1


def test_gauges_and_the_lease_counters_are_exported(metrics_address: str) -> None:
    samples = scrape(metrics_address)
    assert value(samples, "pixpress_queue_slots") == MAX_QUEUE
    assert value(samples, "pixpress_queue_slots_used") == 0  # nothing in flight now
    assert value(samples, "pixpress_memory_budget_bytes") > 0
    assert value(samples, "pixpress_memory_budget_used_bytes") == 0
    assert value(samples, "pixpress_memory_budget_waiting") == 0
    assert value(samples, "pixpress_workers_live") == 1
    assert value(samples, "pixpress_background_slots") == 1
    assert value(samples, "pixpress_background_slots_used") == 0
    # Exported before any lease: 0 while no background work was claimed (this test runs first).
    assert ("pixpress_leases_taken_total", frozenset()) in samples
    assert value(samples, "pixpress_leases_taken_total") == 0
    assert value(samples, "pixpress_leases_expired_total") == 0
    assert value(samples, "process_resident_memory_bytes") > 0


def test_queue_depth_counts_a_request_in_flight(
    server: ServerProcess, metrics_address: str
) -> None:
    release = threading.Event()
    statuses: list[int] = []

    def body() -> Iterator[bytes]:
        yield PNG[:4096]
        release.wait(WAIT)
        yield PNG[4096:]

    def upload() -> None:
        with http_client(server) as http:
            statuses.append(http.post("/v1/compress", content=body()).status_code)

    uploader = threading.Thread(target=upload)
    uploader.start()
    try:
        deadline = time.monotonic() + WAIT
        while (used := value(scrape(metrics_address), "pixpress_queue_slots_used")) < 1:
            if time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        release.set()
        uploader.join(WAIT)
    assert used == 1
    assert statuses == [200]
    assert value(scrape(metrics_address), "pixpress_queue_slots_used") == 0


def test_background_actions_are_counted_queued_and_running_then_gone(
    server: ServerProcess, metrics_address: str
) -> None:
    (worker,) = worker_processes(server)
    with Client(server.address, api_key=server.api_key) as client:
        asset = client.assets.upload(JPEG)
        route = client.routes.retrieve("pixpress/compress-an-image")
        input_asset = {"assetId": asset.id, "assetType": "file"}
        # The one worker frozen: the one slot's action stays RUNNING, the others queued.
        worker.suspend()
        try:
            ids = [
                route.use(body={"quality": 60 + n}, input_asset=input_asset, wait=False).id
                for n in range(3)
            ]
            during = _scrape_until(
                metrics_address,
                lambda s: (
                    value(s, "pixpress_background_actions", state="running") == 1
                    and value(s, "pixpress_background_actions", state="queued") == 2
                    and value(s, "pixpress_background_slots_used") == 1
                ),
            )
        finally:
            worker.resume()
        ended = [client.actions.wait(action_id, timeout=WAIT).status for action_id in ids]
    after = _scrape_until(
        metrics_address,
        lambda s: (
            value(s, "pixpress_background_actions", state="running") == 0
            and value(s, "pixpress_background_actions", state="queued") == 0
        ),
    )
    assert value(during, "pixpress_background_actions", state="running") == 1
    assert value(during, "pixpress_background_actions", state="queued") == 2
    assert value(during, "pixpress_background_slots_used") == 1
    assert value(during, "pixpress_background_slots") == 1
    assert [status.name for status in ended] == ["SUCCEEDED"] * 3
    assert value(after, "pixpress_background_actions", state="running") == 0
    assert value(after, "pixpress_background_actions", state="queued") == 0
    assert value(after, "pixpress_background_slots_used") == 0


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, postgres: PostgresServer
) -> Iterator[tuple[ServerProcess, ServerProcess, str]]:
    """Two replicas on one PostgreSQL store, neither taking background work (what is queued
    stays queued), and a key for both."""
    store_url = postgres.new_database()
    key = store_key(store_url, "alice")
    root = tmp_path_factory.mktemp("depth-replicas")
    started = start_replicas(
        [root / name for name in ("a", "b")],
        store_url,
        *("--background-slots", "0", "--metrics-port", "0"),
    )
    yield started[0], started[1], key
    stop_all(started)


def test_the_background_depth_is_the_stores_every_replicas(
    replicas: tuple[ServerProcess, ServerProcess, str],
) -> None:
    a, b, key = replicas
    metrics_a, metrics_b = printed_metrics_address(a), printed_metrics_address(b)
    with Client(a.address, api_key=key) as client:
        asset = client.assets.upload(JPEG)
        ids = [client.submit_compress(asset.id, 60 + n).id for n in range(2)]
    queued = _scrape_until(
        metrics_b, lambda s: value(s, "pixpress_background_actions", state="queued") == 2
    )
    assert value(queued, "pixpress_background_actions", state="queued") == 2  # submitted on A
    assert value(queued, "pixpress_background_actions", state="running") == 0
    assert value(queued, "pixpress_background_slots") == 0
    assert value(queued, "pixpress_background_slots_used") == 0
    on_a = _scrape_until(
        metrics_a, lambda s: value(s, "pixpress_background_actions", state="queued") == 2
    )
    assert value(on_a, "pixpress_background_actions", state="queued") == 2
    with Client(b.address, api_key=key) as client:
        for action_id in ids:
            client.actions.cancel(action_id)
    emptied = _scrape_until(
        metrics_a, lambda s: value(s, "pixpress_background_actions", state="queued") == 0
    )
    assert value(emptied, "pixpress_background_actions", state="queued") == 0


def _scrape_until(address: str, done: Callable[[Samples], bool]) -> Samples:
    """Scrapes until `done` holds or WAIT passes (the depth is read every 5 s); the last."""
    deadline = time.monotonic() + WAIT
    while not done(samples := scrape(address)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return samples


def test_a_job_in_flight_then_cancelled_counts_budget_restart_and_code(
    server: ServerProcess, metrics_address: str, big_png: bytes
) -> None:
    (worker,) = worker_processes(server)
    idle_cpu = sum(worker.cpu_times()[:2])
    before = scrape(metrics_address)
    channel = keyed_channel(server.address, str(server.api_key))
    options = compress_pb2.CompressOptions(quality=40)
    requests = [compress_pb2.CompressRequest(options=options)] + [
        compress_pb2.CompressRequest(chunk=big_png[at : at + CHUNK])
        for at in range(0, len(big_png), CHUNK)
    ]
    call = compress_pb2_grpc.CompressServiceStub(channel).Compress(iter(requests))
    ended: list[grpc.StatusCode] = []

    def read() -> None:
        try:
            for _ in call:
                pass
        except grpc.RpcError as error:
            ended.append(error.code())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # Frozen mid-job: the request holds its slot and its memory for as long as we look.
        deadline = time.monotonic() + WAIT
        while sum(worker.cpu_times()[:2]) < idle_cpu + 0.3 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.suspend()
        during = scrape(metrics_address)
        call.cancel()  # the server kills the busy worker: its result would be dropped
        reader.join(WAIT)
        deadline = time.monotonic() + WAIT
        while True:
            after = scrape(metrics_address)
            if value(after, "pixpress_workers_live") == 1 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        with contextlib.suppress(psutil.Error):
            worker.resume()
        channel.close()
    assert value(during, "pixpress_queue_slots_used") == 1
    assert value(during, "pixpress_memory_budget_used_bytes") > 0
    assert ended == [grpc.StatusCode.CANCELLED]
    assert moved(before, after, "pixpress_worker_restarts_total", reason="abandoned") == 1
    assert value(after, "pixpress_workers_live") == 1
    labels = {"edge": "grpc", "call": COMPRESS, "code": "CANCELLED"}
    assert moved(before, after, "pixpress_requests_total", **labels) == 1
    assert moved(before, after, "pixpress_actions_ended_total", status="cancelled") == 1
    assert value(after, "pixpress_memory_budget_used_bytes") == 0


def test_a_worker_killed_while_idle_counts_one_restart(
    server: ServerProcess, metrics_address: str
) -> None:
    before = scrape(metrics_address)
    (worker,) = worker_processes(server)
    worker.kill()
    deadline = time.monotonic() + WAIT
    while True:
        after = scrape(metrics_address)
        restarted = moved(before, after, "pixpress_worker_restarts_total", reason="exited_idle")
        if (restarted and value(after, "pixpress_workers_live") == 1) or (
            time.monotonic() > deadline
        ):
            break
        time.sleep(0.2)
    assert restarted == 1
    assert value(after, "pixpress_workers_live") == 1
    assert not moved(before, after, "pixpress_worker_restarts_total", reason="crashed")


def test_metrics_are_only_on_their_own_port(server: ServerProcess, metrics_address: str) -> None:
    with http_client(server) as http:
        assert http.get("/metrics").status_code == 404
    assert httpx.get(f"http://{metrics_address}/", timeout=WAIT).status_code == 404
    openmetrics = httpx.get(
        f"http://{metrics_address}/metrics",
        headers={"Accept": "application/openmetrics-text"},
        timeout=WAIT,
    )
    assert openmetrics.headers["content-type"].startswith("application/openmetrics-text")
    assert openmetrics.text.rstrip().endswith("# EOF")
    ports = _listening_ports(server)
    assert int(metrics_address.rsplit(":", 1)[1]) in ports
    assert len(ports) == 3  # gRPC, HTTP, metrics


def test_metrics_port_off_serves_nothing(tmp_path: Path) -> None:
    process = start_server(tmp_path / "off", ["--workers", "1", "--metrics-port", "off"])
    try:
        ports = _listening_ports(process)
        assert ports == {process.port, int(process.http_address.rsplit(":", 1)[1])}
    finally:
        assert process.stop() == 0, process.log


def _listening_ports(server: ServerProcess) -> set[int]:
    """The TCP ports the server process itself listens on (its workers listen on none)."""
    connections = psutil.Process(server.pid).net_connections(kind="tcp")
    return {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}


def test_a_taken_metrics_port_stops_the_start_naming_the_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(RuntimeError) as refused:
            start_server(tmp_path / "taken", ["--workers", "1", "--metrics-port", str(port)])
    assert f"--metrics-port: cannot listen on 127.0.0.1:{port}" in str(refused.value)
