"""The platform through the SDK (Client, plus AsyncClient checks) against a real server: the
seed's shape, routes, assets, actions, keys and isolation between owners."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pixpress
import pytest
from pixpress import (
    ActionStatus,
    AsyncClient,
    AsyncRoute,
    Client,
    FailedPreconditionError,
    InvalidArgumentError,
    InvalidOptionsError,
    NotFoundError,
    PermissionDeniedError,
    PixpressError,
    UnauthenticatedError,
    Visibility,
)

from tests.integration.server_process import ServerProcess, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "png" / "kodim23.png"
ROUTE = "pixpress/compress-an-image"
UNKNOWN_ID = "2f0c3a8e-0000-4000-8000-000000000000"
STATUS_ORDER = list(ActionStatus)  # queued < running < succeeded, as the enum is declared
WAIT = 60.0  # seconds any single action may take here


@dataclass(frozen=True)
class Platform:
    server: ServerProcess
    keys: dict[str, str]

    @property
    def address(self) -> str:
        return self.server.address

    def client(self, owner: str) -> Client:
        return Client(self.address, api_key=self.keys[owner])


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("platform-sdk")
    keys = {owner: create_key(data_dir, owner) for owner in ("alice", "bob")}
    server = start_server(data_dir, ["--workers", "2"])
    yield Platform(server, keys)
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def alice(platform: Platform) -> Iterator[Client]:
    with platform.client("alice") as client:
        yield client


@pytest.fixture(scope="module")
def bob(platform: Platform) -> Iterator[Client]:
    with platform.client("bob") as client:
        yield client


@pytest.fixture(scope="module")
def big_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A ~14 MP PNG saved with little compression: a few seconds of work at quality 40."""
    import pyvips

    image = pyvips.Image.new_from_file(str(PNG)).resize(6)
    path = tmp_path_factory.mktemp("big") / "big.png"
    path.write_bytes(bytes(image.pngsave_buffer(compression=1)))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def until_running(client: Client, action_id: str) -> pixpress.Action:
    """Watch until the action leaves QUEUED; returns that state."""
    updates = client.actions.watch(action_id, timeout=WAIT, poll_interval=0.05)
    with contextlib.closing(updates):
        return next(u for u in updates if u.status is not ActionStatus.QUEUED)


def revoke(data_dir: Path, key: str) -> None:
    key_id = key.split("_")[1]
    subprocess.run(
        [
            sys.executable,
            *("-m", "pixpress_server.main", "keys", "revoke", key_id),
            *("--data-dir", str(data_dir)),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )


# the seed, as written


def test_the_seed_runs_as_written(platform: Platform, tmp_path: Path) -> None:
    client = pixpress.Client(platform.address, api_key=platform.keys["alice"])
    try:
        route = client.routes.retrieve("pixpress/compress-an-image")
        assert client.routes.retrieve(route.id) == route
        asset = client.assets.upload(JPEG)
        queued = route.use(
            body={"quality": 70},
            input_asset={"assetId": asset.id, "assetType": "file"},
            wait=False,
        )
        assert queued.status is ActionStatus.QUEUED and queued.route_id == route.id
        action = route.use(
            body={"quality": 85}, input_asset={"assetId": asset.id, "assetType": "file"}
        )
        assert action.status is ActionStatus.SUCCEEDED and action.error is None
        assert action["status"] == "succeeded" and action["id"] == action.id
        assert action.get("response_data") == action["response_data"] is not None
        actions = route.read_actions()
        assert [a.id for a in actions][:2] == [action.id, queued.id]
        created = [a.created for a in actions]
        assert created == sorted(created, reverse=True)  # type: ignore[type-var]
        assert client.actions.wait(action.id, timeout=WAIT) == action
        assert client.actions.wait(queued.id, timeout=WAIT).status is ActionStatus.SUCCEEDED
        assert action.response is not None and action.response.output_asset_id
        assert (action.request.quality, action.request.input_asset_id) == (85, asset.id)
        out = client.assets.download(action.response.output_asset_id, tmp_path / "out.jpg")
        assert out == tmp_path / "out.jpg"
        output_asset = client.assets.retrieve(action.response.output_asset_id)
        assert sha256(out) == output_asset.sha256
        assert out.stat().st_size == output_asset.size == action.response.output_size
        assert output_asset.format == action.response.format == "jpeg"
        assert output_asset.owner == "alice"
    finally:
        client.close()
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left beside it


# routes


def test_route_describes_itself(alice: Client) -> None:
    route = alice.routes.retrieve(ROUTE)
    assert (route.identifier, route.owner, route.name, route.visibility) == (
        ROUTE,
        "pixpress",
        "compress-an-image",
        Visibility.PUBLIC,
    )
    assert route.id and route.id != route.identifier
    assert route.description == "Compress an image while maintaining its current format"
    assert route.parameters["quality"] == {
        "type": "integer",
        "description": "Quality setting (1-100, higher is better quality)",
        "default": 80,
        "minimum": 1,
        "maximum": 100,
    }
    assert route.metadata["parameters"] is route.parameters
    assert {"jpeg", "png", "webp"} <= set(route.metadata["formats"])
    assert "pixpress.v1.CompressService/Compress" in route.metadata["rpcs"]
    assert route.metadata["limits"]["max_input_bytes"] > 0


@pytest.mark.parametrize(
    ("reference", "error"),
    [
        ("pixpress/no-such-route", NotFoundError),
        ("someone/compress-an-image", NotFoundError),
        (UNKNOWN_ID, NotFoundError),
        ("not-a-uuid", InvalidArgumentError),
        ("a/b/c", InvalidArgumentError),
    ],
)
def test_route_lookup_errors(alice: Client, reference: str, error: type[PixpressError]) -> None:
    with pytest.raises(error) as raised:
        alice.routes.retrieve(reference)
    assert raised.value.code == error.code


@pytest.mark.parametrize(
    ("body", "input_asset", "message"),
    [
        ({"quality": 150}, UNKNOWN_ID, "Expected integer between 1 and 100 for quality"),
        ({"quality": "85"}, UNKNOWN_ID, "quality"),
        ({"colour": "red"}, UNKNOWN_ID, "colour"),
        ({"quality": 85}, {"assetId": UNKNOWN_ID, "assetType": "url"}, "assetType"),
        ({"quality": 85}, {"assetId": ""}, "assetId"),
        ({"quality": 85}, 42, "input_asset"),
    ],
    ids=["quality-range", "quality-type", "unknown-parameter", "url", "empty-id", "not-an-asset"],
)
def test_route_use_checks_its_arguments_before_any_call(
    alice: Client, body: dict[str, Any], input_asset: Any, message: str
) -> None:
    route = alice.routes.retrieve(ROUTE)
    before = alice.actions.list(page_size=1)
    with pytest.raises(InvalidOptionsError, match=message) as raised:
        route.use(body=body, input_asset=input_asset)
    assert isinstance(raised.value, ValueError)
    assert alice.actions.list(page_size=1) == before


def test_private_route_is_only_for_its_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = {owner: create_key(data_dir, owner) for owner in ("acme", "mallory")}
    server = start_server(
        data_dir, ["--workers", "1", "--route-owner", "acme", "--route-visibility", "private"]
    )
    try:
        with Client(server.address, api_key=keys["acme"]) as acme:
            route = acme.routes.retrieve("acme/compress-an-image")
            assert (route.owner, route.visibility) == ("acme", Visibility.PRIVATE)
            assert acme.routes.retrieve(route.id) == route
            action = route.use(body={"quality": 70}, input_asset=acme.assets.upload(JPEG))
            assert action.status is ActionStatus.SUCCEEDED
            with pytest.raises(NotFoundError):
                acme.routes.retrieve(ROUTE)  # the one route is acme's now
        with Client(server.address, api_key=keys["mallory"]) as mallory:
            for reference in ("acme/compress-an-image", route.id):
                with pytest.raises(NotFoundError):
                    mallory.routes.retrieve(reference)
            with pytest.raises(PermissionDeniedError):
                mallory.compress(JPEG)
    finally:
        assert server.stop() == 0, server.log


# keys


@pytest.mark.parametrize(
    "key",
    [None, "pxp_notakey", "pxp_AAAAAAAAAAAA_" + "B" * 40],
    ids=["missing", "malformed", "unknown"],
)
def test_sdk_calls_without_a_valid_key_are_unauthenticated(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    monkeypatch.delenv("PIXPRESS_API_KEY", raising=False)
    with Client(platform.address, api_key=key) as client:
        calls: dict[str, Callable[[], object]] = {
            "routes.retrieve": lambda: client.routes.retrieve(ROUTE),
            "assets.upload": lambda: client.assets.upload(JPEG),
            "assets.retrieve": lambda: client.assets.retrieve(UNKNOWN_ID),
            "actions.list": client.actions.list,
            "actions.wait": lambda: client.actions.wait(UNKNOWN_ID, timeout=10),
            "compress": lambda: client.compress(JPEG),
            "submit_compress": lambda: client.submit_compress(UNKNOWN_ID),
        }
        for name, call in calls.items():
            with pytest.raises(UnauthenticatedError) as raised:
                call()
            assert raised.value.code == grpc.StatusCode.UNAUTHENTICATED, name


def test_a_revoked_key_is_refused(platform: Platform) -> None:
    key = create_key(platform.server.data_dir, "carol")
    with Client(platform.address, api_key=key) as carol:
        asset = carol.assets.upload(JPEG)
        revoke(platform.server.data_dir, key)
        for call in (
            lambda: carol.routes.retrieve(ROUTE),
            lambda: carol.assets.retrieve(asset.id),
            carol.actions.list,
        ):
            with pytest.raises(UnauthenticatedError):
                call()


# assets and actions: isolation, unknown and malformed ids


def test_another_owners_assets_and_actions_are_not_found(
    alice: Client, bob: Client, tmp_path: Path
) -> None:
    asset = alice.assets.upload(JPEG)
    done = alice.actions.wait(alice.submit_compress(asset.id, quality=50).id, timeout=WAIT)
    assert done.response is not None
    output_id = done.response.output_asset_id
    route = bob.routes.retrieve(ROUTE)
    calls: dict[str, Callable[[], object]] = {
        "assets.retrieve": lambda: bob.assets.retrieve(asset.id),
        "assets.download": lambda: bob.assets.download(asset.id, tmp_path / "a.jpg"),
        "output download": lambda: bob.assets.download(output_id, tmp_path),
        "assets.delete": lambda: bob.assets.delete(asset.id),
        "compress": lambda: bob.compress(input_asset_id=asset.id),
        "submit_compress": lambda: bob.submit_compress(asset.id),
        "route.use": lambda: route.use(body={"quality": 50}, input_asset=asset.id),
        "actions.retrieve": lambda: bob.actions.retrieve(done.id),
        "actions.wait": lambda: bob.actions.wait(done.id, timeout=10),
        "actions.cancel": lambda: bob.actions.cancel(done.id),
    }
    for name, call in calls.items():
        with pytest.raises(NotFoundError):
            call()
        assert not list(tmp_path.iterdir()), name  # a refused download writes nothing
    assert done.id not in {a.id for a in bob.actions.iter()}
    assert alice.assets.retrieve(asset.id) == asset
    assert alice.actions.retrieve(done.id) == done


ID_CALLS: dict[str, Callable[[Client, str, Path], object]] = {
    "assets.retrieve": lambda c, i, p: c.assets.retrieve(i),
    "assets.download": lambda c, i, p: c.assets.download(i, p / "x.jpg"),
    "assets.delete": lambda c, i, p: c.assets.delete(i),
    "compress": lambda c, i, p: c.compress(input_asset_id=i),
    "submit_compress": lambda c, i, p: c.submit_compress(i),
    "actions.retrieve": lambda c, i, p: c.actions.retrieve(i),
    "actions.cancel": lambda c, i, p: c.actions.cancel(i),
    "actions.wait": lambda c, i, p: c.actions.wait(i, timeout=10),
}


@pytest.mark.parametrize("call", ID_CALLS.values(), ids=ID_CALLS.keys())
@pytest.mark.parametrize(
    ("bad_id", "error"),
    [
        (UNKNOWN_ID, NotFoundError),
        ("12345", InvalidArgumentError),
        ("../etc/passwd", InvalidArgumentError),
    ],
    ids=["unknown", "short", "path"],
)
def test_unknown_and_malformed_ids(
    alice: Client,
    tmp_path: Path,
    call: Callable[[Client, str, Path], object],
    bad_id: str,
    error: type[PixpressError],
) -> None:
    with pytest.raises(error):
        call(alice, bad_id, tmp_path)
    assert not list(tmp_path.iterdir())


def test_deleted_asset_is_gone(alice: Client) -> None:
    asset = alice.assets.upload(PNG)
    alice.assets.delete(asset.id)
    with pytest.raises(NotFoundError):
        alice.assets.retrieve(asset.id)
    with pytest.raises(NotFoundError):
        alice.assets.delete(asset.id)


def test_upload_of_non_image_is_invalid(alice: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        alice.assets.upload(b"plain text, not an image" * 10)


# compress through the SDK records actions


def test_compress_stores_its_output_and_reads_stored_assets(alice: Client, tmp_path: Path) -> None:
    result = alice.compress(JPEG, quality=60, store_output=True)
    assert result.action_id and result.output_asset_id
    stored = alice.assets.download(result.output_asset_id, tmp_path / "stored.jpg")
    assert stored.read_bytes() == result.data
    action = alice.actions.retrieve(result.action_id)
    assert action.status is ActionStatus.SUCCEEDED and action.owner == "alice"
    assert action.route_id == alice.routes.retrieve(ROUTE).id
    request = action.request
    assert (request.quality, request.input_size, request.input_format) == (
        60,
        JPEG.stat().st_size,
        "jpeg",
    )
    assert request.store_output and not request.input_asset_id
    response = action.response
    assert response is not None
    assert (response.output_asset_id, response.output_size, response.format) == (
        result.output_asset_id,
        len(result.data),
        "jpeg",
    )
    assert (response.width, response.height) == (result.width, result.height)
    assert action.created and action.started and action.finished
    assert action.created <= action.started <= action.finished

    asset = alice.assets.upload(JPEG)
    again = alice.compress(input_asset_id=asset.id, quality=60)
    assert again.action_id and again.action_id != result.action_id
    assert not again.output_asset_id
    assert again.data == result.data
    recorded = alice.actions.retrieve(again.action_id).request
    assert (recorded.input_asset_id, recorded.store_output) == (asset.id, False)


def test_failed_compress_is_recorded_with_its_error(alice: Client) -> None:
    with pytest.raises(InvalidArgumentError):
        alice.compress(PNG.read_bytes()[:3000], quality=50)
    failed = alice.actions.list(status=ActionStatus.FAILED, page_size=1)[0]
    assert failed.status is ActionStatus.FAILED and failed.response is None
    assert failed.error is not None and failed.error.code == "INVALID_ARGUMENT"
    assert failed.request.quality == 50


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not an image", "unsupported format"),
        (b"", "no image bytes"),
        (PNG.read_bytes()[:3000], "png"),
    ],
    ids=["text", "empty", "truncated-png"],
)
def test_a_failed_compress_names_its_action_and_wait_returns_it(
    alice: Client, data: bytes, message: str
) -> None:
    with pytest.raises(InvalidArgumentError) as raised:
        alice.compress(data, quality=50)
    error = raised.value
    assert error.action_id and message in error.message
    done = alice.actions.wait(error.action_id, timeout=WAIT)
    assert done.status is ActionStatus.FAILED and done.response is None
    assert done.error is not None
    assert (done.error.code, done.error.message) == ("INVALID_ARGUMENT", error.message)
    assert done["error"] == {"code": "INVALID_ARGUMENT", "message": error.message}


def test_route_use_without_an_input_asset_returns_the_failed_action(alice: Client) -> None:
    route = alice.routes.retrieve(ROUTE)
    action = route.use(body={"quality": 85}, timeout=WAIT)
    assert action.status is ActionStatus.FAILED and action.route_id == route.id
    assert action.error is not None and action.error.code == "INVALID_ARGUMENT"
    assert "no input image" in action.error.message
    assert alice.actions.retrieve(action.id) == action
    with pytest.raises(NotFoundError):  # an unknown asset is an error of the call itself
        route.use(body={"quality": 85}, input_asset=UNKNOWN_ID)


def test_a_key_with_whitespace_around_it_is_stripped(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = platform.keys["alice"]
    monkeypatch.setenv("PIXPRESS_API_KEY", key + "\n")  # as captured from `keys create`
    with Client(platform.address) as client:
        assert client.routes.retrieve(ROUTE).identifier == ROUTE
    monkeypatch.delenv("PIXPRESS_API_KEY")
    with Client(platform.address, api_key=f"  {key}\r\n") as client:
        assert client.compress(JPEG, quality=50).action_id


@pytest.mark.parametrize(
    ("key", "flaw"),
    [("{key}\x1b", "a control character"), ("{key} extra", "whitespace")],
    ids=["escape", "space"],
)
def test_a_key_with_whitespace_inside_is_refused_before_any_call(
    platform: Platform, monkeypatch: pytest.MonkeyPatch, key: str, flaw: str
) -> None:
    secret = platform.keys["alice"]
    monkeypatch.setenv("PIXPRESS_API_KEY", key.format(key=secret))
    with pytest.raises(InvalidOptionsError, match=f"PIXPRESS_API_KEY contains {flaw}") as raised:
        Client(platform.address)
    assert secret not in str(raised.value)


def test_rate_limited_calls_carry_a_retry_hint(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--rate-limit", "1", "--rate-burst", "2"])
    try:
        with Client(server.address, api_key=key) as client:
            errors: list[PixpressError] = []
            for _ in range(20):  # bounded: the third call within a second is already refused
                try:
                    client.routes.retrieve(ROUTE)
                except PixpressError as error:
                    errors.append(error)
                    break
            assert errors, "20 calls at once were never refused"
            refused = errors[0]
            assert refused.code == grpc.StatusCode.RESOURCE_EXHAUSTED, refused
            assert refused.retry_after is not None and 0 < refused.retry_after <= 5
            assert refused.action_id == ""
    finally:
        assert server.stop() == 0, server.log


# watch, wait and cancel


def test_watch_reports_each_status_once_ending_terminal(alice: Client) -> None:
    asset = alice.assets.upload(PNG)
    action = alice.submit_compress(asset.id, quality=60)
    updates = list(alice.actions.watch(action.id, timeout=WAIT))
    statuses = [u.status for u in updates]
    assert statuses[-1] is ActionStatus.SUCCEEDED
    assert statuses == sorted(set(statuses), key=STATUS_ORDER.index)
    assert {u.id for u in updates} == {action.id}
    assert updates[-1].response is not None and updates[-1].response.output_asset_id
    # a finished action: reported once, then the watch ends
    assert [u.status for u in alice.actions.watch(action.id, timeout=10)] == statuses[-1:]
    assert alice.actions.wait(action.id, timeout=10) == updates[-1]
    with pytest.raises(FailedPreconditionError) as raised:
        alice.actions.cancel(action.id)
    assert raised.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert alice.actions.retrieve(action.id).status is ActionStatus.SUCCEEDED


def test_cancel_a_running_action(alice: Client, big_png: Path) -> None:
    asset = alice.assets.upload(big_png)
    action = alice.submit_compress(asset.id, quality=40)
    assert until_running(alice, action.id).status is ActionStatus.RUNNING
    cancelled = alice.actions.cancel(action.id)
    assert cancelled.status is ActionStatus.CANCELLED
    final = alice.actions.wait(action.id, timeout=WAIT)
    assert final.status is ActionStatus.CANCELLED and final.response is None
    assert final.error is not None and final.error.code == "CANCELLED"
    with pytest.raises(FailedPreconditionError):
        alice.actions.cancel(action.id)


# paging


def test_list_pages_through_tokens_newest_first(alice: Client, bob: Client) -> None:
    for quality in (50, 55, 60):
        alice.compress(JPEG, quality=quality)
    seen: list[pixpress.Action] = []
    token = ""
    while True:
        page = alice.actions.list(page_size=2, page_token=token)
        assert 1 <= len(page) <= 2
        seen.extend(page)
        token = page.next_page_token
        if not token:
            break
    ids = [a.id for a in seen]
    assert len(ids) >= 3 and len(set(ids)) == len(ids)
    assert {a.owner for a in seen} == {"alice"}
    created = [a.created for a in seen]
    assert created == sorted(created, reverse=True)  # type: ignore[type-var]
    assert [a.id for a in alice.actions.iter()] == ids
    assert [a.id for a in alice.actions.iter(page_size=1)] == ids
    assert not set(ids) & {a.id for a in bob.actions.iter()}
    with pytest.raises(ValueError, match="page_size"):
        alice.actions.list(page_size=101)


def test_tampered_or_foreign_page_tokens_are_invalid(alice: Client, bob: Client) -> None:
    alice.compress(JPEG, quality=50)
    alice.compress(JPEG, quality=55)
    token = alice.actions.list(page_size=1).next_page_token
    assert token
    body, _, signature = token.partition(".")
    tampered = [
        body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature,
        body + "." + signature[::-1],
        "garbage",
    ]
    for bad in tampered:
        with pytest.raises(InvalidArgumentError):
            alice.actions.list(page_size=1, page_token=bad)
    with pytest.raises(InvalidArgumentError):
        bob.actions.list(page_size=1, page_token=token)
    with pytest.raises(InvalidArgumentError):
        alice.actions.list(page_size=1, page_token=token, status=ActionStatus.FAILED)
    with pytest.raises(InvalidArgumentError):
        alice.actions.list(page_size=1, page_token=token, route_id=UNKNOWN_ID)


def test_list_by_route_takes_an_id_or_the_identifier(alice: Client) -> None:
    alice.compress(JPEG, quality=50)
    route = alice.routes.retrieve(ROUTE)
    by_identifier = alice.actions.list(route_id=ROUTE)
    assert len(by_identifier) > 0
    assert by_identifier == alice.actions.list(route_id=route.id)
    with pytest.raises(InvalidArgumentError):
        alice.actions.list(route_id="not-a-uuid")
    with pytest.raises(NotFoundError):
        alice.actions.list(route_id="someone/compress-an-image")


# AsyncClient


async def test_async_client_uploads_submits_and_waits(platform: Platform, tmp_path: Path) -> None:
    async with AsyncClient(platform.address, api_key=platform.keys["alice"]) as client:
        route = await client.routes.retrieve(ROUTE)
        assert isinstance(route, AsyncRoute) and route.identifier == ROUTE
        asset = await client.assets.upload(JPEG)
        finished = await route.use(body={"quality": 60}, input_asset=asset, timeout=WAIT)
        assert finished.status is ActionStatus.SUCCEEDED and finished["response_data"]
        action = await route.use(body={"quality": 70}, input_asset=asset, wait=False)
        assert action.status is ActionStatus.QUEUED
        statuses = [u.status async for u in client.actions.watch(action.id, timeout=WAIT)]
        assert statuses[-1] is ActionStatus.SUCCEEDED
        assert statuses == sorted(set(statuses), key=STATUS_ORDER.index)
        done = await client.actions.wait(action.id, timeout=10)
        assert done.response is not None
        path = await client.assets.download(done.response.output_asset_id, tmp_path)
        assert path == tmp_path / f"{done.response.output_asset_id}.jpg"
        assert sha256(path) == (await client.assets.retrieve(done.response.output_asset_id)).sha256
        assert (await route.read_actions(page_size=5))[0].id == action.id
        assert action.id in [a.id async for a in client.actions.iter(page_size=2)]
        failed = await route.use(body={"quality": 85})
        assert failed.status is ActionStatus.FAILED and failed["error"]["code"] == (
            "INVALID_ARGUMENT"
        )
        with pytest.raises(InvalidArgumentError) as raised:
            await client.compress(b"not an image")
        assert raised.value.action_id
        assert (await client.actions.wait(raised.value.action_id, timeout=WAIT)).status is (
            ActionStatus.FAILED
        )
        submitted = await client.submit_compress(asset.id, quality=40)
        assert (await client.actions.wait(submitted.id, timeout=WAIT)).status is (
            ActionStatus.SUCCEEDED
        )
        with pytest.raises(FailedPreconditionError):
            await client.actions.cancel(submitted.id)


async def test_async_client_errors(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PIXPRESS_API_KEY", raising=False)
    async with AsyncClient(platform.address) as nobody:
        with pytest.raises(UnauthenticatedError):
            await nobody.routes.retrieve(ROUTE)
    async with (
        AsyncClient(platform.address, api_key=platform.keys["alice"]) as alice,
        AsyncClient(platform.address, api_key=platform.keys["bob"]) as bob,
    ):
        asset = await alice.assets.upload(JPEG)
        with pytest.raises(NotFoundError):
            await bob.assets.retrieve(asset.id)
        with pytest.raises(NotFoundError):
            [u async for u in bob.actions.watch(UNKNOWN_ID, timeout=10)]
        with pytest.raises(InvalidArgumentError):
            await alice.actions.retrieve("../etc/passwd")


# restart


def test_watch_follows_an_action_across_a_server_restart(tmp_path: Path, big_png: Path) -> None:
    """A watch in progress when the server dies polls until it is back (on the same port) and
    ends on the action the restarted server took up again from the queue (the dead run's
    lease is void on SQLite) and finished; stored outputs outlive the restart."""
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1"])
    port = str(server.port)
    statuses: list[ActionStatus] = []
    watching = threading.Event()
    failure: list[PixpressError] = []
    with Client(server.address, api_key=key) as client:
        small = client.assets.upload(JPEG)
        done = client.actions.wait(client.submit_compress(small.id, 50).id, timeout=WAIT)
        assert done.response is not None
        kept = client.assets.download(done.response.output_asset_id, tmp_path / "kept.jpg")
        action = client.submit_compress(client.assets.upload(big_png).id, quality=40)
        assert until_running(client, action.id).status is ActionStatus.RUNNING

        def watch() -> None:
            try:
                for update in client.actions.watch(action.id, timeout=WAIT, poll_interval=0.2):
                    statuses.append(update.status)
                    watching.set()
            except PixpressError as error:
                failure.append(error)

        watcher = threading.Thread(target=watch)
        watcher.start()
        assert watching.wait(10)  # on the stream, RUNNING seen
        server.process.kill()
        server.process.wait(30)
        server.stop()
        restarted = start_server(data_dir, ["--workers", "1", "--port", port])
        try:
            watcher.join(WAIT + 10)
            assert not watcher.is_alive() and not failure, failure
            assert statuses == [ActionStatus.RUNNING, ActionStatus.SUCCEEDED]
            final = client.actions.wait(action.id, timeout=10)
            assert final.error is None and final.response is not None
            assert client.assets.retrieve(final.response.output_asset_id).size > 0
            again = client.assets.download(done.response.output_asset_id, tmp_path / "again.jpg")
            assert again.read_bytes() == kept.read_bytes()
            assert client.actions.retrieve(done.id) == done
        finally:
            assert restarted.stop() == 0, restarted.log
