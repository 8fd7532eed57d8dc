"""Per-key request rate and per-peer failed-authentication throttle, through real servers
with small limits: RESOURCE_EXHAUSTED with a `pixpress-retry-after` hint that is honest
(waiting it is enough), other keys unaffected, health always open."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress.v1 import compress_pb2, routes_pb2
from pixpress_server.main import MAX_CONNECTIONS

from tests.integration.server_process import ServerProcess, create_key, start_server

RETRY_AFTER = "pixpress-retry-after"
ROUTE = routes_pb2.GetRouteRequest(route="pixpress/compress-an-image")
BURST = 5


def _get_route(channel: grpc.Channel, key: str) -> grpc.RpcError | None:
    call = channel.unary_unary(
        "/pixpress.v1.RouteService/GetRoute",
        request_serializer=routes_pb2.GetRouteRequest.SerializeToString,
        response_deserializer=routes_pb2.Route.FromString,
    )
    try:
        call(ROUTE, timeout=20, metadata=(("authorization", f"Bearer {key}"),))
    except grpc.RpcError as error:
        return error
    return None


def _compress(channel: grpc.Channel, key: str) -> grpc.RpcError:
    call = channel.stream_stream(
        "/pixpress.v1.CompressService/Compress",
        request_serializer=compress_pb2.CompressRequest.SerializeToString,
        response_deserializer=compress_pb2.CompressResponse.FromString,
    )
    options = compress_pb2.CompressRequest(options=compress_pb2.CompressOptions(quality=70))
    with pytest.raises(grpc.RpcError) as raised:
        list(call(iter([options]), timeout=20, metadata=(("authorization", f"Bearer {key}"),)))
    return raised.value


def _retry_after(error: grpc.RpcError) -> float:
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error
    trailing = {item[0]: item[1] for item in error.trailing_metadata() or ()}
    return float(trailing[RETRY_AFTER])


def _healthy(channel: grpc.Channel) -> bool:
    stub = health_pb2_grpc.HealthStub(channel)
    reply = stub.Check(health_pb2.HealthCheckRequest(), timeout=20)  # type: ignore[attr-defined]
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


@pytest.fixture(scope="module")
def rate_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, str, str]]:
    data_dir = tmp_path_factory.mktemp("rate")
    alice, bob = create_key(data_dir, "alice"), create_key(data_dir, "bob")
    # 1 request per second: even a slow machine sends the burst's 5 calls well within it.
    server = start_server(
        data_dir, ["--workers", "1", "--rate-limit", "1", "--rate-burst", str(BURST)]
    )
    yield server, alice, bob
    assert server.stop() == 0, server.log


def test_a_key_over_its_rate_waits_the_hint_and_others_are_unaffected(
    rate_server: tuple[ServerProcess, str, str],
) -> None:
    server, alice, bob = rate_server
    with grpc.insecure_channel(server.address) as channel:
        assert [_get_route(channel, alice) for _ in range(BURST)] == [None] * BURST
        refused = None
        for _ in range(10):  # the next call, or one soon after on a stalled machine
            refused = _get_route(channel, alice)
            if refused is not None:
                break
        assert refused is not None, "never refused"
        hint = _retry_after(refused)
        assert 0 < hint <= 1.0
        assert "rate limit" in (refused.details() or "")
        assert _get_route(channel, bob) is None  # bob has his own bucket
        assert _retry_after(_compress(channel, alice)) > 0  # streaming calls too
        assert _healthy(channel)
        time.sleep(hint)
        assert _get_route(channel, alice) is None


def _own_connection(address: str) -> grpc.Channel:
    # Channels share one connection per target by default; this one gets its own.
    return grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


def test_connections_beyond_the_cap_are_refused(
    rate_server: tuple[ServerProcess, str, str],
) -> None:
    server = rate_server[0]
    channels = [_own_connection(server.address) for _ in range(MAX_CONNECTIONS + 20)]
    try:
        served = 0
        for channel in channels:
            try:
                served += _healthy(channel)
            except grpc.RpcError as error:
                assert error.code() == grpc.StatusCode.UNAVAILABLE
        assert MAX_CONNECTIONS - 20 <= served <= MAX_CONNECTIONS
    finally:
        for channel in channels:
            channel.close()
    deadline = time.monotonic() + 30  # closed connections free their places
    while True:
        with _own_connection(server.address) as channel:
            try:
                assert _healthy(channel)
                break
            except grpc.RpcError:
                assert time.monotonic() < deadline, "no connection accepted after closing"
                time.sleep(0.5)


@pytest.fixture
def throttle_server(tmp_path: Path) -> Iterator[tuple[ServerProcess, str]]:
    data_dir = tmp_path / "throttle"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--max-auth-failures", "5"])
    yield server, key
    assert server.stop() == 0, server.log


def test_a_peer_failing_authentication_is_throttled_even_with_a_good_key(
    throttle_server: tuple[ServerProcess, str],
) -> None:
    server, key = throttle_server
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    with grpc.insecure_channel(server.address) as channel:
        assert _get_route(channel, key) is None
        for _ in range(5):
            failed = _get_route(channel, wrong)
            assert failed is not None and failed.code() == grpc.StatusCode.UNAUTHENTICATED
        refused = _get_route(channel, wrong)
        assert refused is not None
        hint = _retry_after(refused)
        assert 1 < hint <= 60
        assert "too many failed authentications" in (refused.details() or "")
        good_but_refused = _get_route(channel, key)
        assert good_but_refused is not None and _retry_after(good_but_refused) > 0
        assert _healthy(channel)
    with grpc.insecure_channel(server.address) as channel:  # a new connection: same address
        again = _get_route(channel, key)
        assert again is not None and _retry_after(again) > 0


def test_the_cli_slows_down_to_the_rate_limit_instead_of_failing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--rate-limit", "2", "--rate-burst", "2"])
    try:
        images = tmp_path / "images"
        images.mkdir()
        source = Path(__file__).resolve().parents[1] / "fixtures" / "pngsuite"
        for path in sorted(source.glob("[!x]*.png"))[:6]:
            shutil.copy(path, images / path.name)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
        env |= {"PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key}
        completed = subprocess.run(
            [
                sys.executable,
                "-m",
                "pixpress.cli",
                "compress",
                images,
                "-o",
                tmp_path / "out",
                "-j3",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert len(list((tmp_path / "out").iterdir())) == 6
    finally:
        assert server.stop() == 0, server.log
