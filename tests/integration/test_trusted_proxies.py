"""Client addresses behind Debian's nginx: nginx reaches the replica from 127.0.0.2 and clients
come from other loopback addresses. With --trusted-proxies 127.0.0.2/32 the failed-auth
throttle counts each client (HTTP and gRPC alike) and a client's own X-Forwarded-For changes
nothing; without it every client behind nginx is nginx's one address (today's behaviour)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import grpc
import httpx
import pytest
from pixpress.v1 import routes_pb2, routes_pb2_grpc

from tests.integration.nginx_process import NginxProcess, start_nginx
from tests.integration.server_process import (
    ServerProcess,
    create_key,
    keyed_channel,
    start_server,
)

PROXY = "127.0.0.2"
FAILURES = 3  # --max-auth-failures: the 4th request of an address within a minute waits
ROUTE = "/v1/routes/pixpress/compress-an-image"
TIMEOUT = 60.0
# nginx reaches the replicas from PROXY, so it is told apart from every client.
BIND = f"    proxy_bind {PROXY};\n    grpc_bind {PROXY};\n"


@dataclass
class Front:
    replica: ServerProcess
    nginx: NginxProcess
    key: str

    def client(self, source: str) -> httpx.Client:
        """An HTTP client of nginx connecting from the loopback address `source`."""
        return httpx.Client(
            base_url=f"http://{self.nginx.http_address}",
            transport=httpx.HTTPTransport(local_address=source),
            timeout=TIMEOUT,
        )

    def log_clients(self, status: str) -> list[str]:
        """The client= of each `request failed` log line with `status`, in order."""
        pattern = rf"request failed owner=\S+ client=(\S+) status={status} "
        return re.findall(pattern, self.replica.log)


def _front(tmp: pytest.TempPathFactory, name: str, extra_args: list[str]) -> Iterator[Front]:
    data_dir = tmp.mktemp(f"{name}-replica")
    key = create_key(data_dir, "alice")
    args = ["--workers", "1", "--max-auth-failures", str(FAILURES), *extra_args]
    replica = start_server(data_dir, args)
    try:
        nginx = start_nginx(
            tmp.mktemp(f"{name}-nginx"),
            [replica.address],
            [replica.http_address],
            http_directives=BIND,
        )
        try:
            yield Front(replica, nginx, key)
        finally:
            nginx.stop()
    finally:
        replica.stop()


@pytest.fixture(scope="module")
def trusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    yield from _front(tmp_path_factory, "trusting", ["--trusted-proxies", f"{PROXY}/32"])


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    yield from _front(tmp_path_factory, "untrusting", [])


def _get_route(client: httpx.Client, key: str, forwarded_for: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    return client.get(ROUTE, headers=headers).status_code


def _wrong(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _wait_for_log(front: Front, status: str, client: str, count: int = 1) -> list[str]:
    """The log's client= values for `status` once `client` is `count` of them (bounded wait;
    the log is the module's, so earlier tests' lines must not end the wait)."""
    deadline = time.monotonic() + 30
    while (found := front.log_clients(status)).count(client) < count:
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    return found


def test_an_untrusted_peer_is_the_client_whatever_it_forwards(trusting: Front) -> None:
    """Straight to the replica, not through nginx: the peer is no trusted proxy, so its own
    X-Forwarded-For is ignored."""
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9")) as direct:
        response = direct.get(
            f"http://{trusting.replica.http_address}{ROUTE}",
            headers={
                "Authorization": f"Bearer {_wrong(trusting.key)}",
                "X-Forwarded-For": "1.2.3.4",
            },
            timeout=TIMEOUT,
        )
    assert response.status_code == 401
    assert "127.0.0.9" in _wait_for_log(trusting, "UNAUTHENTICATED", "127.0.0.9")
    assert "1.2.3.4" not in trusting.log_clients("UNAUTHENTICATED")


def test_a_guesser_is_throttled_and_another_client_is_not(trusting: Front) -> None:
    with trusting.client("127.0.0.3") as guesser, trusting.client("127.0.0.4") as other:
        for _ in range(FAILURES):
            assert _get_route(guesser, _wrong(trusting.key)) == 401
        assert _get_route(guesser, trusting.key) == 429  # even a good key waits
        assert _get_route(other, trusting.key) == 200
        assert _get_route(other, _wrong(trusting.key)) == 401  # one failure of its own
        assert _get_route(other, trusting.key) == 200
    assert "127.0.0.3" in _wait_for_log(trusting, "RESOURCE_EXHAUSTED", "127.0.0.3")


def test_a_spoofed_forwarded_for_counts_as_the_real_client(trusting: Front) -> None:
    with trusting.client("127.0.0.5") as spoofer, trusting.client("127.0.0.6") as other:
        for number in range(FAILURES):
            spoofed = f"1.2.3.{number + 4}"  # a new address each time: no count of its own
            assert _get_route(spoofer, _wrong(trusting.key), spoofed) == 401
        assert _get_route(spoofer, trusting.key, "1.2.3.99") == 429
        # Claiming the throttled address does not make another client that address.
        assert _get_route(other, trusting.key, "127.0.0.5") == 200
    failed = _wait_for_log(trusting, "UNAUTHENTICATED", "127.0.0.5", FAILURES)
    assert "1.2.3.4" not in failed
    assert failed.count("127.0.0.5") == FAILURES


def test_grpc_through_nginx_counts_the_forwarded_address(trusting: Front) -> None:
    """gRPC reaches nginx from 127.0.0.1 (a channel cannot pick its source address); its
    failures are 127.0.0.1's, on both edges, even with its own x-forwarded-for."""
    request = routes_pb2.GetRouteRequest(route="pixpress/compress-an-image")
    with keyed_channel(trusting.nginx.grpc_address, _wrong(trusting.key)) as channel:
        stub = routes_pb2_grpc.RouteServiceStub(channel)
        for number in range(FAILURES):
            with pytest.raises(grpc.RpcError) as refused:
                stub.GetRoute(
                    request, timeout=TIMEOUT, metadata=(("x-forwarded-for", f"1.2.3.{number}"),)
                )
            assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
        with pytest.raises(grpc.RpcError) as throttled:
            stub.GetRoute(request, timeout=TIMEOUT)
        assert throttled.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # The same address over HTTP waits too; were gRPC's failures nginx's, it would not.
    with trusting.client("127.0.0.1") as same, trusting.client("127.0.0.7") as other:
        assert _get_route(same, trusting.key) == 429
        assert _get_route(other, trusting.key) == 200
    failed = _wait_for_log(trusting, "UNAUTHENTICATED", "127.0.0.1", FAILURES)
    assert failed.count("127.0.0.1") >= FAILURES


def test_without_trusted_proxies_every_client_behind_nginx_is_one(untrusting: Front) -> None:
    """Today's behaviour, documented: the replica sees only nginx, so one guesser's failures
    throttle every client behind the same nginx."""
    with untrusting.client("127.0.0.3") as guesser, untrusting.client("127.0.0.4") as other:
        for _ in range(FAILURES):
            assert _get_route(guesser, _wrong(untrusting.key), "127.0.0.3") == 401
        assert _get_route(other, untrusting.key) == 429
    assert set(_wait_for_log(untrusting, "UNAUTHENTICATED", PROXY, FAILURES)) == {PROXY}


def test_the_trusted_ranges_are_logged_at_start(trusting: Front, untrusting: Front) -> None:
    assert f"trusted_proxies={PROXY}/32" in trusting.replica.log
    assert "trusted_proxies=none" in untrusting.replica.log
