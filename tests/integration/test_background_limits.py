"""Bounds and fairness of background work on real servers: an owner over
--max-pending-per-owner is refused (RESOURCE_EXHAUSTED, HTTP 429 with Retry-After) while
another owner is served, the bound holds across replicas of one PostgreSQL store, and a
replica with one slot takes the owners' queued actions in turns."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import pytest
from pixpress import ActionStatus, Client, PixpressError

from tests.integration.replicas import start_replicas, stop_all, store_key
from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as http
from tests.postgres_service import PostgresServer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROUTE = "pixpress/compress-an-image"
BOUND = 3
WAIT = 300.0
PENDING_MESSAGE = f"already has {BOUND} background actions queued or running"


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("photo") / "Landscape_1.jpg"
    shutil.copyfile(FIXTURES / "jpeg" / "Landscape_1.jpg", copy)
    return copy


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """SQLite, no background slot: what is submitted stays queued, so it stays pending."""
    data_dir = tmp_path_factory.mktemp("background-limits")
    process = start_server(
        data_dir,
        ["--workers", "1", "--background-slots", "0", "--max-pending-per-owner", str(BOUND)],
    )
    yield process
    process.stop()


def submit(client: Client, asset_id: str, quality: int = 80) -> str:
    route = client.routes.retrieve(ROUTE)
    input_asset = {"assetId": asset_id, "assetType": "file"}
    return route.use(body={"quality": quality}, input_asset=input_asset, wait=False).id


def use_async(client: httpx.Client, asset_id: str) -> httpx.Response:
    return client.post(
        f"/v1/routes/{ROUTE}/use",
        json={"body": {"quality": 80}, "input_asset": {"assetId": asset_id, "assetType": "file"}},
        headers={"Prefer": "respond-async"},
    )


def test_an_owner_over_the_pending_bound_is_refused_and_another_is_not(
    server: ServerProcess, photo: Path
) -> None:
    alice, bob = create_key(server.data_dir, "alice"), create_key(server.data_dir, "bob")
    with Client(server.address, api_key=alice) as client:
        asset = client.assets.upload(photo)
        queued = [submit(client, asset.id) for _ in range(BOUND)]
        with pytest.raises(PixpressError) as refused:
            submit(client, asset.id)
        with pytest.raises(PixpressError) as refused_direct:
            client.submit_compress(asset.id, 70)  # SubmitCompress, as route.use sends it
        listed = list(client.actions.iter())
    assert refused.value.code.name == "RESOURCE_EXHAUSTED"
    assert PENDING_MESSAGE in refused.value.message, refused.value.message
    assert "--max-pending-per-owner" in refused.value.message
    assert refused.value.retry_after == pytest.approx(5.0)
    assert refused_direct.value.code.name == "RESOURCE_EXHAUSTED"
    # Nothing recorded for the refused ones: the owner sees only the queued actions.
    assert sorted(action.id for action in listed) == sorted(queued)
    with http(server, alice) as alice_http, http(server, bob) as bob_http:
        over = use_async(alice_http, asset.id)
        bob_asset = bob_http.post("/v1/assets", content=photo.read_bytes()).json()["id"]
        accepted = use_async(bob_http, bob_asset)
    assert over.status_code == 429, over.text
    assert over.headers["retry-after"] == "5"
    assert over.headers["content-type"].startswith("application/problem+json")
    problem = over.json()
    assert problem["code"] == "RESOURCE_EXHAUSTED" and PENDING_MESSAGE in problem["detail"]
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["status"] == "queued"


def test_a_cancelled_action_frees_its_place_under_the_bound(
    server: ServerProcess, photo: Path
) -> None:
    carol = create_key(server.data_dir, "carol")
    with Client(server.address, api_key=carol) as client:
        asset = client.assets.upload(photo)
        queued = [submit(client, asset.id) for _ in range(BOUND)]
        with pytest.raises(PixpressError):
            submit(client, asset.id)
        cancelled = client.actions.cancel(queued[0])
        again = submit(client, asset.id)
        with pytest.raises(PixpressError) as full_again:
            submit(client, asset.id)
    assert cancelled.status is ActionStatus.CANCELLED
    assert again not in queued
    assert full_again.value.code.name == "RESOURCE_EXHAUSTED"


# One PostgreSQL store, two replicas: the bound counts every replica's submits, and the
# replica that does the work takes the owners in turns.


@pytest.fixture(scope="module")
def store_url(postgres: PostgresServer) -> str:
    return postgres.new_database()


@pytest.fixture(scope="module")
def replicas(
    tmp_path_factory: pytest.TempPathFactory, store_url: str
) -> Iterator[list[ServerProcess]]:
    """Two replicas without background slots on one store and one blob directory; a test
    starts a third to do the work."""
    root = tmp_path_factory.mktemp("pending-replicas")
    started = replicas_on(root, range(2), store_url, "--background-slots", "0")
    yield started
    stop_all(started)


def replicas_on(
    root: Path, numbers: Iterable[int], store_url: str, *arguments: str
) -> list[ServerProcess]:
    """Replicas with the pending bound, data dirs `root/replica-N`, blobs in `root/blobs`."""
    return start_replicas(
        [root / f"replica-{n}" for n in numbers],
        store_url,
        *("--max-pending-per-owner", str(BOUND), *arguments),
        blob_dir=root / "blobs",
    )


def test_the_pending_bound_counts_every_replicas_submits_and_owners_take_turns(
    replicas: list[ServerProcess], store_url: str, photo: Path
) -> None:
    first, second = replicas
    alice, bob = store_key(store_url, "alice"), store_key(store_url, "bob")
    with (
        Client(first.address, api_key=alice) as alice_first,
        Client(second.address, api_key=alice) as alice_second,
        Client(second.address, api_key=bob) as bob_second,
    ):
        asset = alice_first.assets.upload(photo)
        alice_queued = [submit(alice_first, asset.id, 50 + n) for n in range(2)]
        alice_queued.append(submit(alice_second, asset.id, 52))
        with pytest.raises(PixpressError) as refused:
            submit(alice_second, asset.id)  # two queued through the other replica count
        bob_asset = bob_second.assets.upload(photo)
        bob_queued = [submit(bob_second, bob_asset.id, 60 + n) for n in range(2)]
        # One slot does all the work: it takes alice's oldest, then bob's, then alice's...
        (worker,) = replicas_on(first.data_dir.parent, [2], store_url, "--background-slots", "1")
        try:
            done = [alice_first.actions.wait(a, timeout=WAIT) for a in alice_queued]
            done += [bob_second.actions.wait(b, timeout=WAIT) for b in bob_queued]
        finally:
            worker.stop()
    assert refused.value.code.name == "RESOURCE_EXHAUSTED"
    assert PENDING_MESSAGE in refused.value.message
    assert [action.status for action in done] == [ActionStatus.SUCCEEDED] * 5, done
    started = sorted(done, key=lambda action: action.started)  # type: ignore[arg-type,return-value]
    owners = ["alice" if action.id in alice_queued else "bob" for action in started]
    # Oldest first would run alice's three before bob's two.
    assert owners == ["alice", "bob", "alice", "bob", "alice"]
