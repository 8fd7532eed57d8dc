"""Health follows the store: a server on a PostgreSQL cluster the test stops is NOT_SERVING
(gRPC Health for "" and every pixpress service, and `GET /healthz` 503) within a bounded wait,
and SERVING again once the cluster is back; health calls stay fast meanwhile."""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import httpx
import psutil
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress.v1 import actions_pb2, actions_pb2_grpc

from tests.integration.replicas import wait_until
from tests.integration.server_process import ServerProcess, start_server
from tests.postgres_service import PostgresServer, start_postgres

SERVICES = (
    "",
    "pixpress.v1.CompressService",
    "pixpress.v1.AssetService",
    "pixpress.v1.ActionService",
    "pixpress.v1.RouteService",
)
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
# The probe runs every 2 s with a 3 s timeout; the rest is slack for a loaded 2-core machine.
FLIP_BOUND = 60.0
# Check answers from the published status, never after a store round trip (a probe gives up
# after 3 s, a call waits 10 s for a pooled connection): five Checks on a new channel take less.
CHECK_BOUND = 5.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresServer]:
    """A cluster of the module's own: the test stops it, which the session's must never be."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def replica(
    cluster: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("store-health")
    args = ["--store", cluster.new_database(), "--workers", "1", "--insecure-no-auth"]
    server = start_server(data_dir, args)
    yield server
    server.stop()


def statuses(address: str) -> list[int]:
    """Health.Check for each service on one fresh channel."""
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        return [
            int(stub.Check(health_pb2.HealthCheckRequest(service=name), timeout=30).status)
            for name in SERVICES
        ]


def timed_statuses(address: str) -> list[int]:
    """`statuses`, failing when they took CHECK_BOUND or longer."""
    started = time.monotonic()
    found = statuses(address)
    took = time.monotonic() - started
    assert took < CHECK_BOUND, f"five health checks took {took:.1f} s"
    return found


def cluster_processes(cluster: PostgresServer) -> list[psutil.Process]:
    """The postmaster and every backend it started (the probe's included)."""
    postmaster = psutil.Process(cluster.process.pid)
    return [postmaster, *postmaster.children(recursive=True)]


def healthz(server: ServerProcess) -> httpx.Response:
    return httpx.get(f"http://{server.http_address}/healthz", timeout=30)


def list_actions(address: str) -> grpc.StatusCode:
    with grpc.insecure_channel(address) as channel:
        try:
            actions_pb2_grpc.ActionServiceStub(channel).ListActions(
                actions_pb2.ListActionsRequest(), timeout=60
            )
        except grpc.RpcError as error:
            return error.code()
    return grpc.StatusCode.OK


def test_health_is_not_serving_while_the_store_is_down(
    cluster: PostgresServer, replica: ServerProcess
) -> None:
    assert statuses(replica.address) == [SERVING] * len(SERVICES)
    answer = healthz(replica)
    assert answer.status_code == 200 and answer.json() == {"status": "SERVING"}

    cluster.halt()
    down = wait_until(
        lambda: statuses(replica.address) == [NOT_SERVING] * len(SERVICES),
        "NOT_SERVING with the store down",
        FLIP_BOUND,
    )
    assert timed_statuses(replica.address) == [NOT_SERVING] * len(SERVICES)
    answer = healthz(replica)
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["retry-after"] == "2"
    problem = answer.json()
    assert problem["code"] == "UNAVAILABLE"
    assert problem["detail"] == "not serving: the store does not answer"
    assert list_actions(replica.address) is grpc.StatusCode.UNAVAILABLE

    cluster.resume()
    up = wait_until(
        lambda: statuses(replica.address) == [SERVING] * len(SERVICES),
        "SERVING with the store back",
        FLIP_BOUND,
    )
    assert healthz(replica).status_code == 200
    assert list_actions(replica.address) is grpc.StatusCode.OK  # SERVING: calls work again
    print(f"\nNOT_SERVING {down:.1f} s after the stop, SERVING {up:.1f} s after the start")
    assert "the store does not answer: NOT_SERVING" in replica.log
    after = replica.log.split("the store does not answer: NOT_SERVING")[1]
    assert "the workers and the store answer again: SERVING" in after


def test_healthz_on_sqlite_needs_no_key_and_is_documented(server: ServerProcess) -> None:
    answer = healthz(server)  # the session server requires keys; none is sent
    assert answer.status_code == 200 and answer.json() == {"status": "SERVING"}
    spec = httpx.get(f"http://{server.http_address}/openapi.json", timeout=30).json()
    operation = spec["paths"]["/healthz"]["get"]
    assert "security" not in operation
    assert set(operation["responses"]) == {"200", "500", "503"}
    problem = operation["responses"]["503"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/ProblemJson"}


def test_health_is_not_serving_while_the_store_hangs(
    cluster: PostgresServer, replica: ServerProcess
) -> None:
    """Every cluster process stopped (SIGSTOP): connections open but nothing answers, so
    the probe's timeout decides, and health calls never wait for it."""
    wait_until(
        lambda: statuses(replica.address) == [SERVING] * len(SERVICES), "SERVING", FLIP_BOUND
    )
    frozen = cluster_processes(cluster)
    for process in frozen:
        process.suspend()
    try:
        down = wait_until(
            lambda: timed_statuses(replica.address) == [NOT_SERVING] * len(SERVICES),
            "NOT_SERVING with the store hung",
            FLIP_BOUND,
        )
        for _ in range(5):  # a few probe rounds, each one timing out
            assert timed_statuses(replica.address) == [NOT_SERVING] * len(SERVICES)
            assert healthz(replica).status_code == 503
            time.sleep(1)
    finally:
        for process in frozen:
            process.resume()
    up = wait_until(
        lambda: statuses(replica.address) == [SERVING] * len(SERVICES),
        "SERVING with the store answering again",
        FLIP_BOUND,
    )
    assert healthz(replica).status_code == 200
    print(f"\nhung: NOT_SERVING after {down:.1f} s, SERVING {up:.1f} s after it answered")
