"""Three replicas on one PostgreSQL store and one shared blob directory, behind Debian's nginx:
work submitted through one is seen and watched through the others, a replica SIGKILLed
mid-work has its action finished once by a survivor, and assets travel between replicas."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from pixpress import Action, ActionStatus, Client
from pixpress.v1 import actions_pb2

from tests.integration.nginx_process import NginxProcess, start_nginx
from tests.integration.replicas import rows, start_replicas, stop_all, store_key, wait_until
from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    keyed_channel,
    kill_server,
    metrics_address,
)
from tests.integration.test_metrics import scrape, value
from tests.postgres_service import PostgresServer

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
KODAK = CORPUS / "photos" / "kodak"
AVIF = CORPUS / "odd" / "avif-libavif" / "paris_icc_exif_xmp.avif"
ROUTE = "pixpress/compress-an-image"
USE = f"/v1/routes/{ROUTE}/use"
# zopfli at q 100, effort 10 on a 0.39 MP Kodak PNG: ~8 s of one worker on a loaded 2-core
# machine, so a watch opened just after the submit sees the action before it ends.
SLOW = {"quality": 100, "effort": 10}
HEAVY = ("kodim01.png", "kodim02.png", "kodim03.png")  # one per replica in the kill test
LEASE_SECONDS = 4
WAIT = 240.0
TERMINAL = {"succeeded", "failed", "cancelled"}
ORDER = ["queued", "running", "succeeded"]


@dataclass
class Cluster:
    """The replicas (each with its /metrics address), nginx in front, and what they share."""

    replicas: list[ServerProcess]
    metrics: list[str]
    nginx: NginxProcess
    store_url: str
    blob_dir: Path
    key: str

    def http(self, address: str) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.key}"}
        return httpx.Client(base_url=f"http://{address}", headers=headers, timeout=WAIT)

    def client(self, address: str) -> Client:
        return Client(address, api_key=self.key, timeout=WAIT)


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The corpus images these tests send, copied to a tmp dir."""
    directory = tmp_path_factory.mktemp("images")
    for source in [*(KODAK / name for name in (*HEAVY, "kodim13.png", "kodim23.png")), AVIF]:
        shutil.copyfile(source, directory / source.name)
    return directory


@pytest.fixture(scope="module")
def cluster(
    postgres: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    store_url = postgres.new_database()
    key = store_key(store_url, "alice")
    blob_dir = tmp_path_factory.mktemp("shared-blobs")
    started = start_replicas(
        [tmp_path_factory.mktemp(f"replica-{n}") for n in (1, 2, 3)],
        store_url,
        *("--background-slots", "1", "--lease-seconds", str(LEASE_SECONDS)),
        *("--metrics-port", "0"),
        blob_dir=blob_dir,
        at_once=True,  # all three migrate and start at once
    )
    nginx: NginxProcess | None = None
    try:
        metrics = [metrics_address(replica) for replica in started]
        nginx = start_nginx(
            tmp_path_factory.mktemp("nginx"),
            [replica.address for replica in started],
            [replica.http_address for replica in started],
        )
        yield Cluster(started, metrics, nginx, store_url, blob_dir, key)
    finally:
        if nginx is not None:
            nginx.stop()
        stop_all(started)


def holders(store_url: str, action_ids: list[str]) -> dict[str, str | None]:
    """Each action's lease holder: the replica's id that last claimed it."""
    query = "SELECT id, lease_owner FROM actions WHERE id = ANY(%s)"
    return {
        str(row[0]): None if row[1] is None else str(row[1])
        for row in rows(store_url, query, action_ids)
    }


def grpc_watch(cluster: Cluster, address: str, action_id: str) -> list[str]:
    """The statuses WatchAction streams from `address`, until it ends."""
    with keyed_channel(address, cluster.key) as channel:
        request = actions_pb2.WatchActionRequest(id=action_id)
        return [
            actions_pb2.ActionStatus.Name(action.status).removeprefix("ACTION_STATUS_").lower()
            for action in Stubs(channel).actions.WatchAction(request, timeout=WAIT)
        ]


def sse_watch(cluster: Cluster, address: str, action_id: str) -> list[str]:
    """The event names of the action's Server-Sent Events from `address`, until they end."""
    with (
        cluster.http(address) as http,
        http.stream("GET", f"/v1/actions/{action_id}/events") as stream,
    ):
        assert stream.status_code == 200, stream.read()
        return [
            line.removeprefix("event: ")
            for line in stream.iter_lines()
            if line.startswith("event: ")
        ]


def test_background_actions_submitted_through_one_replica_are_seen_and_watched_through_all(
    cluster: Cluster, images: Path
) -> None:
    first, second, third = cluster.replicas
    with cluster.client(first.address) as client:
        asset = client.assets.upload(images / "kodim13.png")
        by_grpc = client.routes.retrieve(ROUTE).use(body=SLOW, input_asset=asset, wait=False)
    with cluster.http(first.http_address) as http:
        body = {"body": SLOW, "input_asset": {"assetId": asset.id, "assetType": "file"}}
        response = http.post(USE, json=body, headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.text
    submitted = [by_grpc.id, response.json()["id"]]
    fronts = {
        "replica 2": (second.address, second.http_address),
        "replica 3": (third.address, third.http_address),
        "nginx": (cluster.nginx.grpc_address, cluster.nginx.http_address),
    }
    with ThreadPoolExecutor(4 * len(fronts)) as pool:
        watches: dict[tuple[str, str, str], Future[list[str]]] = {}
        for front, (grpc_address, http_address) in fronts.items():
            for action_id in submitted:
                watches[front, "WatchAction", action_id] = pool.submit(
                    grpc_watch, cluster, grpc_address, action_id
                )
                watches[front, "events", action_id] = pool.submit(
                    sse_watch, cluster, http_address, action_id
                )
        for front, (grpc_address, http_address) in fronts.items():
            with cluster.client(grpc_address) as client:
                route = client.routes.retrieve(ROUTE)
                seen = [client.actions.retrieve(action_id) for action_id in submitted]
                listed = {action.id for action in client.actions.list(page_size=100)}
                of_route = {action.id for action in route.read_actions(page_size=100)}
            with cluster.http(http_address) as http:
                got = [http.get(f"/v1/actions/{action_id}") for action_id in submitted]
                page = http.get("/v1/actions", params={"page_size": 100}).json()
            assert [action.id for action in seen] == submitted, front
            assert set(submitted) <= listed and set(submitted) <= of_route, front
            assert [response.json()["id"] for response in got] == submitted, front
            assert set(submitted) <= {action["id"] for action in page["actions"]}, front
        watched = {watch: future.result(timeout=WAIT) for watch, future in watches.items()}
    for watch, statuses in watched.items():
        # Opened before the action ended, each watch saw it move on another replica, in order.
        assert statuses[0] not in TERMINAL and statuses[-1] == "succeeded", (watch, statuses)
        assert statuses == sorted(set(statuses), key=ORDER.index), (watch, statuses)
    with cluster.client(cluster.nginx.grpc_address) as client:
        done = [client.actions.retrieve(action_id) for action_id in submitted]
    assert [action.status for action in done] == [ActionStatus.SUCCEEDED] * 2, done
    assert all(action.response and action.response.output_asset_id for action in done)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def stored_once(cluster: Cluster, digest: str) -> bool:
    """The blob is in the shared directory, and in no replica's own data dir."""
    shared = list(cluster.blob_dir.rglob(digest))
    own = [path for replica in cluster.replicas for path in replica.data_dir.rglob(digest)]
    return shared == [cluster.blob_dir / digest[:2] / digest] and not own


def test_an_asset_uploaded_through_one_replica_downloads_through_the_others_and_nginx(
    cluster: Cluster, images: Path, tmp_path: Path
) -> None:
    first, second, third = cluster.replicas
    photo = images / "kodim23.png"
    with cluster.client(first.address) as client:
        by_grpc = client.assets.upload(photo)
    with cluster.http(second.http_address) as http:
        response = http.post("/v1/assets", content=AVIF.read_bytes())
    assert response.status_code == 201, response.text
    by_http = response.json()
    expected = {by_grpc.id: sha256(photo.read_bytes()), by_http["id"]: sha256(AVIF.read_bytes())}
    assert by_grpc.sha256 == expected[by_grpc.id] and by_http["sha256"] == expected[by_http["id"]]
    fronts = {
        "replica 1": (first.address, first.http_address),
        "replica 2": (second.address, second.http_address),
        "replica 3": (third.address, third.http_address),
        "nginx": (cluster.nginx.grpc_address, cluster.nginx.http_address),
    }
    for front, (grpc_address, http_address) in fronts.items():
        with cluster.client(grpc_address) as client, cluster.http(http_address) as http:
            for asset_id, digest in expected.items():
                written = client.assets.download(asset_id, tmp_path / f"{front}-{asset_id}")
                content = http.get(f"/v1/assets/{asset_id}/content")
                assert content.status_code == 200, (front, content.text)
                assert sha256(written.read_bytes()) == sha256(content.content) == digest, front
    assert all(stored_once(cluster, digest) for digest in expected.values())


def test_a_replica_killed_mid_work_has_its_action_finished_once_by_a_survivor(
    cluster: Cluster, images: Path
) -> None:
    """Last in the module: it kills the third replica."""
    store = cluster.store_url
    with cluster.client(cluster.nginx.grpc_address) as client:
        route = client.routes.retrieve(ROUTE)
        assets = [client.assets.upload(images / name) for name in HEAVY]
        actions = [route.use(body=SLOW, input_asset=asset, wait=False) for asset in assets]
        ids = [action.id for action in actions]
        holding = "SELECT count(DISTINCT lease_owner) FROM actions "
        holding += "WHERE id = ANY(%s) AND status = 'running'"
        wait_until(
            lambda: rows(store, holding, ids) == [(3,)],
            "each replica runs one of the actions",
            WAIT,
        )
        before = holders(store, ids)
        killed, killed_at = time.monotonic(), datetime.now(UTC)
        kill_server(cluster.replicas[2])
        done: list[Action] = [client.actions.wait(action_id, timeout=WAIT) for action_id in ids]
        took = time.monotonic() - killed
    assert [action.status for action in done] == [ActionStatus.SUCCEEDED] * 3, done
    after = holders(store, ids)
    (rerun,) = [action_id for action_id in ids if after[action_id] != before[action_id]]
    survivors = set(before.values()) - {before[rerun]}
    assert after[rerun] in survivors  # the killed replica's action, re-run by a survivor
    (rerun_action,) = [action for action in done if action.id == rerun]
    assert rerun_action.started is not None and rerun_action.started > killed_at
    rerun_after = (rerun_action.started - killed_at).total_seconds()
    outputs = rows(
        store,
        "SELECT id, sha256 FROM assets WHERE origin = 'output' AND created >= "
        "(SELECT min(created) FROM actions WHERE id = ANY(%s))",
        ids,
    )
    named = {action.response.output_asset_id for action in done if action.response}
    assert len(outputs) == len(named) == 3 and {row[0] for row in outputs} == named
    assert all(stored_once(cluster, str(row[1])) for row in outputs)
    samples = [scrape(address) for address in cluster.metrics[:2]]
    assert sum(value(s, "pixpress_leases_expired_total") for s in samples) == 1
    assert all(value(s, "pixpress_leases_taken_total") >= 1 for s in samples)
    print(
        f"killed mid-work: its action re-run by a survivor {rerun_after:.1f} s after the kill"
        f" (lease {LEASE_SECONDS} s); all three SUCCEEDED {took:.1f} s after it, 3 outputs"
    )
