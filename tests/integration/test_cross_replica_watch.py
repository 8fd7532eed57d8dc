"""WatchAction and the HTTP events stream on one replica see the status changes another replica
makes at once (PostgreSQL LISTEN/NOTIFY), though each replica re-reads the store only every 10
minutes here; after its listening connection is terminated, a replica listens again."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import httpx
import psycopg
import pytest
from pixpress import Action, ActionStatus, Client
from pixpress.v1 import actions_pb2

from tests.integration.replicas import start_replicas, stop_all, store_key
from tests.integration.server_process import ServerProcess, Stubs
from tests.postgres_service import PostgresServer, listener_pids

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PNG = FIXTURES / "png" / "kodim23.png"
SLOW = {"quality": 100, "effort": 10}  # zopfli: seconds of work, so a second action waits
ROUTE = "pixpress/compress-an-image"
REFRESH_SECONDS = 600  # the replicas' fallback re-read: far too late to explain any delay here
BOUND = 2.0  # seconds from a change on one replica to a watcher on another (typically ~10 ms)
WAIT = 300.0


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def key(store_url: str) -> str:
    return store_key(store_url, "alice")


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """A, which does the background work (one worker), and B, which takes none and is
    where the watchers are."""
    root = tmp_path_factory.mktemp("replicas")
    shared = root / "blobs"  # the shared mount every replica reaches asset bytes on
    refresh = ("--watch-refresh-seconds", str(REFRESH_SECONDS))
    started: list[ServerProcess] = []
    try:
        for name, slots in (("a", "1"), ("b", "0")):
            started += start_replicas(
                [root / name], store_url, "--background-slots", slots, *refresh, blob_dir=shared
            )
        yield started[0], started[1]
    finally:
        stop_all(started)


@dataclass
class Watcher:
    """One stream of an action's statuses on a replica, read in a thread: each status with
    the wall-clock time it arrived."""

    action_id: str
    seen: list[tuple[ActionStatus, float]] = field(default_factory=list)
    error: BaseException | None = None
    thread: threading.Thread | None = None

    def statuses(self) -> list[ActionStatus]:
        return [status for status, _ in self.seen]

    def join(self) -> None:
        assert self.thread is not None
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), f"the watch of {self.action_id} did not end"
        if self.error is not None:
            raise self.error


def _run(watcher: Watcher, read: object) -> Watcher:
    def target() -> None:
        try:
            read()  # type: ignore[operator]
        except BaseException as error:  # raised again by join(), in the test's thread
            watcher.error = error

    watcher.thread = threading.Thread(target=target, daemon=True)
    watcher.thread.start()
    return watcher


def watch_grpc(server: ServerProcess, key: str, action_id: str) -> Watcher:
    """WatchAction on the server's gRPC port."""
    watcher = Watcher(action_id)

    def read() -> None:
        with grpc.insecure_channel(server.address) as channel:
            stubs = Stubs(channel, key)
            request = actions_pb2.WatchActionRequest(id=action_id)
            for action in stubs.actions.WatchAction(request, metadata=stubs.metadata, timeout=WAIT):
                name = actions_pb2.ActionStatus.Name(action.status).removeprefix("ACTION_STATUS_")
                watcher.seen.append((ActionStatus(name.lower()), time.time()))

    return _run(watcher, read)


def watch_events(server: ServerProcess, key: str, action_id: str) -> Watcher:
    """GET /v1/actions/ID/events (Server-Sent Events) on the server's HTTP port."""
    watcher = Watcher(action_id)

    def read() -> None:
        headers = {"Authorization": f"Bearer {key}"}
        url = f"http://{server.http_address}/v1/actions/{action_id}/events"
        with httpx.stream("GET", url, headers=headers, timeout=WAIT) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if line.startswith("event: "):
                    status = ActionStatus(line.removeprefix("event: "))
                    watcher.seen.append((status, time.time()))

    return _run(watcher, read)


def delays(watcher: Watcher, action: Action) -> dict[ActionStatus, float]:
    """Per status the watcher saw change to, seconds from the change (the time the replica
    that made it recorded) to its arrival at the watcher."""
    changed = {ActionStatus.RUNNING: action.started, ActionStatus.SUCCEEDED: action.finished}
    result: dict[ActionStatus, float] = {}
    for status, arrived in watcher.seen[1:]:  # the first is the status when the watch began
        when = changed[status]
        assert when is not None, action
        result[status] = arrived - when.timestamp()
    return result


def submit(server: ServerProcess, key: str, count: int) -> list[str]:
    """`count` background actions queued through `server`: their ids."""
    with Client(server.address, api_key=key) as client:
        route = client.routes.retrieve(ROUTE)
        asset = client.assets.upload(PNG)
        return [route.use(body=SLOW, input_asset=asset, wait=False).id for _ in range(count)]


def watch_all(
    server: ServerProcess, key: str, action_ids: list[str]
) -> dict[str, tuple[Watcher, Watcher]]:
    """A WatchAction and an events stream on `server` for each action, until all ended."""
    watchers = {
        action_id: (watch_grpc(server, key, action_id), watch_events(server, key, action_id))
        for action_id in action_ids
    }
    for pair in watchers.values():
        for watcher in pair:
            watcher.join()
    return watchers


def finished(server: ServerProcess, key: str, action_ids: list[str]) -> dict[str, Action]:
    with Client(server.address, api_key=key) as client:
        return {action_id: client.actions.retrieve(action_id) for action_id in action_ids}


def measured(
    server: ServerProcess, key: str, watchers: dict[str, tuple[Watcher, Watcher]]
) -> list[tuple[str, ActionStatus, float]]:
    """Every change a watcher saw: (edge, status, delay)."""
    actions = finished(server, key, list(watchers))
    found: list[tuple[str, ActionStatus, float]] = []
    for action_id, pair in watchers.items():
        action = actions[action_id]
        assert action.status is ActionStatus.SUCCEEDED, action
        for edge, watcher in zip(("grpc", "http"), pair, strict=True):
            assert watcher.statuses()[-1] is ActionStatus.SUCCEEDED, watcher.seen
            found += [(edge, status, delay) for status, delay in delays(watcher, action).items()]
    return found


def test_changes_made_by_one_replica_reach_the_watchers_on_another_at_once(
    replicas: tuple[ServerProcess, ServerProcess], key: str
) -> None:
    worker, front = replicas
    # A's one slot takes the first; the second waits QUEUED behind it while the watch begins.
    first, second = submit(worker, key, 2)
    watchers = watch_all(front, key, [first, second])
    assert watchers[second][0].statuses() == [
        ActionStatus.QUEUED,
        ActionStatus.RUNNING,
        ActionStatus.SUCCEEDED,
    ], "the second action was not queued behind the first when the watch began"
    found = measured(worker, key, watchers)
    print("\ndelays (s):", [(edge, str(status), round(delay, 3)) for edge, status, delay in found])
    assert len(found) >= 6  # two changes of the second action, and the first's end, per edge
    assert all(delay < BOUND for _, _, delay in found), found


def test_after_its_listening_connection_is_terminated_a_replica_hears_changes_again(
    replicas: tuple[ServerProcess, ServerProcess], key: str, store_url: str
) -> None:
    worker, front = replicas
    before = listener_pids(store_url)
    assert len(before) == 2  # one per replica
    with psycopg.connect(store_url) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)", (before,)
        )
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        after = listener_pids(store_url)
        if len(after) == 2 and not set(after) & set(before):
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"the replicas did not listen again: {listener_pids(store_url)}")
    first, second = submit(worker, key, 2)
    found = measured(worker, key, watch_all(front, key, [first, second]))
    print("\ndelays after reconnecting (s):", [(e, str(s), round(d, 3)) for e, s, d in found])
    assert len(found) >= 6
    assert all(delay < BOUND for _, _, delay in found), found
