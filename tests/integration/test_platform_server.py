"""The platform on the wire: keys, isolation between owners, assets, actions, routes."""

from __future__ import annotations

import contextlib
import hashlib
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from pixpress.v1 import (
    actions_pb2,
    assets_pb2,
    compress_pb2,
    compress_pb2_grpc,
    routes_pb2,
    routes_pb2_grpc,
)

from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    create_key,
    keyed_channel,
    kill_server,
    start_server,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "png" / "kodim23.png"
CHUNK = 256 * 1024
UNKNOWN_ID = "2f0c3a8e-0000-4000-8000-000000000000"


def upload(stubs: Stubs, data: bytes, finish: bool = True) -> assets_pb2.Asset:
    starts = range(0, len(data), CHUNK)
    requests = (
        assets_pb2.UploadAssetRequest(
            chunk=data[i : i + CHUNK], finish_write=finish and i == starts[-1]
        )
        for i in starts
    )
    return stubs.assets.UploadAsset(requests, timeout=60)


def download(stubs: Stubs, asset_id: str) -> tuple[assets_pb2.Asset, bytes]:
    responses = list(stubs.assets.DownloadAsset(assets_pb2.DownloadAssetRequest(id=asset_id)))
    return responses[0].asset, b"".join(r.chunk for r in responses[1:])


def compress_stream(
    stubs: Stubs, data: bytes, quality: int = 70, store_output: bool = False
) -> list[compress_pb2.CompressResponse]:
    options = compress_pb2.CompressOptions(quality=quality, store_output=store_output)
    requests = [compress_pb2.CompressRequest(options=options)] + [
        compress_pb2.CompressRequest(chunk=data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]
    return list(stubs.compress.Compress(iter(requests), timeout=120))


def submit(stubs: Stubs, asset_id: str, quality: int = 60) -> actions_pb2.Action:
    options = compress_pb2.CompressOptions(quality=quality, input_asset_id=asset_id)
    return stubs.compress.SubmitCompress(compress_pb2.SubmitCompressRequest(options=options))


def wait_terminal(stubs: Stubs, action_id: str, timeout: float = 120) -> actions_pb2.Action:
    terminal = {
        actions_pb2.ACTION_STATUS_SUCCEEDED,
        actions_pb2.ACTION_STATUS_FAILED,
        actions_pb2.ACTION_STATUS_CANCELLED,
    }
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        action = stubs.actions.GetAction(actions_pb2.GetActionRequest(id=action_id))
        if action.status in terminal:
            return action
        time.sleep(0.1)
    raise AssertionError(f"action {action_id} did not finish")


def rpc_error(call: object, *args: object, **kwargs: object) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        result = call(*args, **kwargs)  # type: ignore[operator]
        if hasattr(result, "__iter__") and not isinstance(result, bytes):
            list(result)
    return raised.value


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[ServerProcess, dict[str, str]]]:
    data_dir = tmp_path_factory.mktemp("platform")
    keys = {owner: create_key(data_dir, owner) for owner in ("alice", "bob")}
    server = start_server(data_dir, ["--workers", "2"])
    yield server, keys
    server.stop()


@pytest.fixture(scope="module")
def alice(platform: tuple[ServerProcess, dict[str, str]]) -> Iterator[Stubs]:
    server, keys = platform
    with keyed_channel(server.address, keys["alice"]) as channel:
        yield Stubs(channel)


@pytest.fixture(scope="module")
def bob(platform: tuple[ServerProcess, dict[str, str]]) -> Iterator[Stubs]:
    server, keys = platform
    with keyed_channel(server.address, keys["bob"]) as channel:
        yield Stubs(channel)


# keys


@pytest.mark.parametrize(
    "key",
    [None, "", "pxp_notakey", "pxp_AAAAAAAAAAAA_" + "B" * 40, "Basic dXNlcjpwYXNz"],
    ids=["missing", "empty", "malformed", "unknown", "not-bearer"],
)
def test_calls_without_a_valid_key_are_unauthenticated(
    platform: tuple[ServerProcess, dict[str, str]], key: str | None
) -> None:
    server, _ = platform
    with grpc.insecure_channel(server.address) as channel:
        metadata = (
            ()
            if key is None
            else (("authorization", key if key.startswith("Basic") else f"Bearer {key}"),)
        )
        routes = routes_pb2_grpc.RouteServiceStub(channel)
        error = rpc_error(
            routes.GetRoute,
            routes_pb2.GetRouteRequest(route="pixpress/compress-an-image"),
            metadata=metadata,
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        compress = compress_pb2_grpc.CompressServiceStub(channel)
        error = rpc_error(
            compress.Compress,
            iter([compress_pb2.CompressRequest(options=compress_pb2.CompressOptions())]),
            metadata=metadata,
        )
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED
        # health and reflection stay open
        health = health_pb2_grpc.HealthStub(channel)
        assert (
            health.Check(health_pb2.HealthCheckRequest()).status
            == health_pb2.HealthCheckResponse.SERVING
        )


def test_revoked_key_is_refused_and_keys_list_never_shows_a_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "carol")
    key_id = key.split("_")[1]
    server = start_server(data_dir, ["--workers", "1"])
    try:
        with keyed_channel(server.address, key) as channel:
            routes = routes_pb2_grpc.RouteServiceStub(channel)
            routes.GetRoute(routes_pb2.GetRouteRequest(route="pixpress/compress-an-image"))
            listing = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pixpress_server.main",
                    "keys",
                    "list",
                    "--data-dir",
                    str(data_dir),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert key_id in listing and "carol" in listing
            assert key not in listing and key.split("_")[2] not in listing
            row = next(line for line in listing.splitlines() if key_id in line)
            assert row.count("-") >= 4  # created and last used are dates, not "-"
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pixpress_server.main",
                    "keys",
                    "revoke",
                    key_id,
                    "--data-dir",
                    str(data_dir),
                ],
                check=True,
                capture_output=True,
            )
            error = rpc_error(
                routes.GetRoute, routes_pb2.GetRouteRequest(route="pixpress/compress-an-image")
            )
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED
    finally:
        server.stop()
    assert key not in server.log and key.split("_")[2] not in server.log


# routes


def test_route_by_identifier_and_by_id(alice: Stubs) -> None:
    route = alice.routes.GetRoute(routes_pb2.GetRouteRequest(route="pixpress/compress-an-image"))
    assert route.identifier == "pixpress/compress-an-image"
    assert route.name == "compress-an-image"
    assert route.description == "Compress an image while maintaining its current format"
    assert route.visibility == routes_pb2.VISIBILITY_PUBLIC
    quality = next(p for p in route.parameters if p.name == "quality")
    assert (quality.type, quality.minimum, quality.maximum, quality.default_json) == (
        "integer",
        1,
        100,
        "80",
    )
    assert quality.description == "Quality setting (1-100, higher is better quality)"
    assert "jpeg" in route.formats and "pixpress.v1.CompressService/Compress" in route.rpcs
    again = alice.routes.GetRoute(routes_pb2.GetRouteRequest(route=route.id))
    assert again == route


@pytest.mark.parametrize(
    ("reference", "code"),
    [
        ("pixpress/no-such-route", grpc.StatusCode.NOT_FOUND),
        ("someone/compress-an-image", grpc.StatusCode.NOT_FOUND),
        (UNKNOWN_ID, grpc.StatusCode.NOT_FOUND),
        ("not-a-uuid", grpc.StatusCode.INVALID_ARGUMENT),
        ("", grpc.StatusCode.INVALID_ARGUMENT),
        ("a/b/c", grpc.StatusCode.INVALID_ARGUMENT),
    ],
)
def test_route_lookup_errors(alice: Stubs, reference: str, code: grpc.StatusCode) -> None:
    error = rpc_error(alice.routes.GetRoute, routes_pb2.GetRouteRequest(route=reference))
    assert error.code() == code


def test_private_route_is_only_for_its_owner(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    keys = {owner: create_key(data_dir, owner) for owner in ("acme", "mallory")}
    server = start_server(
        data_dir, ["--workers", "1", "--route-owner", "acme", "--route-visibility", "private"]
    )
    try:
        with keyed_channel(server.address, keys["acme"]) as channel:
            owner = Stubs(channel)
            route = owner.routes.GetRoute(
                routes_pb2.GetRouteRequest(route="acme/compress-an-image")
            )
            assert route.visibility == routes_pb2.VISIBILITY_PRIVATE
            assert compress_stream(owner, JPEG.read_bytes())[1].HasField("result")
        with keyed_channel(server.address, keys["mallory"]) as channel:
            other = Stubs(channel)
            for reference in ("acme/compress-an-image", route.id):
                error = rpc_error(
                    other.routes.GetRoute, routes_pb2.GetRouteRequest(route=reference)
                )
                assert error.code() == grpc.StatusCode.NOT_FOUND
            error = rpc_error(compress_stream, other, JPEG.read_bytes())
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        server.stop()


# assets


def test_asset_round_trip_and_isolation(alice: Stubs, bob: Stubs) -> None:
    data = PNG.read_bytes()
    asset = upload(alice, data)
    assert asset.owner == "alice" and asset.size == len(data)
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert alice.assets.GetAsset(assets_pb2.GetAssetRequest(id=asset.id)) == asset
    meta, content = download(alice, asset.id)
    assert meta == asset and content == data
    for call, request in (
        (bob.assets.GetAsset, assets_pb2.GetAssetRequest(id=asset.id)),
        (bob.assets.DownloadAsset, assets_pb2.DownloadAssetRequest(id=asset.id)),
        (bob.assets.DeleteAsset, assets_pb2.DeleteAssetRequest(id=asset.id)),
    ):
        assert rpc_error(call, request).code() == grpc.StatusCode.NOT_FOUND
    alice.assets.DeleteAsset(assets_pb2.DeleteAssetRequest(id=asset.id))
    error = rpc_error(alice.assets.GetAsset, assets_pb2.GetAssetRequest(id=asset.id))
    assert error.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("asset_id", "code"),
    [(UNKNOWN_ID, grpc.StatusCode.NOT_FOUND), ("12345", grpc.StatusCode.INVALID_ARGUMENT)],
)
def test_asset_id_errors(alice: Stubs, asset_id: str, code: grpc.StatusCode) -> None:
    assert rpc_error(alice.assets.GetAsset, assets_pb2.GetAssetRequest(id=asset_id)).code() == code
    assert rpc_error(submit, alice, asset_id).code() == code


def test_upload_of_non_image_is_refused(alice: Stubs) -> None:
    error = rpc_error(upload, alice, b"plain text, not an image" * 10)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_upload_without_finish_write_stores_nothing(
    alice: Stubs, platform: tuple[ServerProcess, dict[str, str]]
) -> None:
    server, _ = platform
    blobs_before = sorted((server.data_dir / "blobs").rglob("*"))
    error = rpc_error(upload, alice, JPEG.read_bytes(), finish=False)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "finish_write" in (error.details() or "")
    assert sorted((server.data_dir / "blobs").rglob("*")) == blobs_before


def test_upload_cut_off_mid_stream_leaves_nothing(
    alice: Stubs, platform: tuple[ServerProcess, dict[str, str]]
) -> None:
    server, _ = platform
    blobs_before = sorted((server.data_dir / "blobs").rglob("*"))
    data = PNG.read_bytes()

    def requests() -> Iterator[assets_pb2.UploadAssetRequest]:
        yield assets_pb2.UploadAssetRequest(chunk=data[:CHUNK])
        time.sleep(0.5)
        raise RuntimeError("client crashed mid-upload")

    with pytest.raises(grpc.RpcError):
        alice.assets.UploadAsset(requests(), timeout=30)
    time.sleep(0.5)
    assert sorted((server.data_dir / "blobs").rglob("*")) == blobs_before
    assert not list((server.data_dir / "tmp").iterdir())
    listing = alice.actions.ListActions(actions_pb2.ListActionsRequest(page_size=100))
    assert all(a.request.input_size != CHUNK for a in listing.actions)


# actions


def test_streaming_compress_records_its_action(alice: Stubs) -> None:
    responses = compress_stream(alice, JPEG.read_bytes(), quality=60, store_output=True)
    action_id = responses[0].action_id
    result = responses[1].result
    assert action_id and result.action_id == action_id and result.output_asset_id
    output = b"".join(r.chunk for r in responses[2:])
    action = alice.actions.GetAction(actions_pb2.GetActionRequest(id=action_id))
    assert action.status == actions_pb2.ACTION_STATUS_SUCCEEDED
    assert action.owner == "alice" and action.request.quality == 60
    assert action.request.input_size == JPEG.stat().st_size
    assert action.response.output_size == len(output) == result.output_size
    assert action.response.output_asset_id == result.output_asset_id
    assert (
        action.created.ToDatetime() <= action.started.ToDatetime() <= action.finished.ToDatetime()
    )
    assert download(alice, result.output_asset_id)[1] == output


def test_failed_compress_is_recorded_with_its_error(alice: Stubs) -> None:
    data = PNG.read_bytes()[:3000]
    options = compress_pb2.CompressOptions(quality=50)
    requests = [
        compress_pb2.CompressRequest(options=options),
        compress_pb2.CompressRequest(chunk=data),
    ]
    responses = alice.compress.Compress(iter(requests))
    first = next(responses)
    with pytest.raises(grpc.RpcError) as raised:
        list(responses)
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    action = alice.actions.GetAction(actions_pb2.GetActionRequest(id=first.action_id))
    assert action.status == actions_pb2.ACTION_STATUS_FAILED
    assert action.error.code == "INVALID_ARGUMENT" and "png" in action.error.message


def test_submit_returns_queued_then_succeeds_and_watch_follows(alice: Stubs, bob: Stubs) -> None:
    asset = upload(alice, PNG.read_bytes())
    action = submit(alice, asset.id)
    assert action.status == actions_pb2.ACTION_STATUS_QUEUED
    statuses = [
        a.status
        for a in alice.actions.WatchAction(
            actions_pb2.WatchActionRequest(id=action.id), timeout=120
        )
    ]
    assert statuses[-1] == actions_pb2.ACTION_STATUS_SUCCEEDED
    assert statuses == sorted(set(statuses))  # each status once, in order
    done = alice.actions.GetAction(actions_pb2.GetActionRequest(id=action.id))
    _, output = download(alice, done.response.output_asset_id)
    assert len(output) == done.response.output_size
    assert (
        rpc_error(bob.actions.GetAction, actions_pb2.GetActionRequest(id=action.id)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        rpc_error(bob.actions.WatchAction, actions_pb2.WatchActionRequest(id=action.id)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    assert (
        rpc_error(bob.actions.CancelAction, actions_pb2.CancelActionRequest(id=action.id)).code()
        == grpc.StatusCode.NOT_FOUND
    )
    error = rpc_error(alice.actions.CancelAction, actions_pb2.CancelActionRequest(id=action.id))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


def big_png_bytes(scale: int = 6) -> bytes:
    import pyvips

    image = pyvips.Image.new_from_file(str(PNG)).resize(scale)
    return bytes(image.pngsave_buffer(compression=1))


def test_cancel_a_running_action(alice: Stubs) -> None:
    asset = upload(alice, big_png_bytes())
    action = submit(alice, asset.id, quality=40)
    deadline = time.monotonic() + 60
    while (
        alice.actions.GetAction(actions_pb2.GetActionRequest(id=action.id)).status
        == actions_pb2.ACTION_STATUS_QUEUED
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = alice.actions.CancelAction(actions_pb2.CancelActionRequest(id=action.id))
    assert cancelled.status == actions_pb2.ACTION_STATUS_CANCELLED
    time.sleep(0.5)
    final = alice.actions.GetAction(actions_pb2.GetActionRequest(id=action.id))
    assert final.status == actions_pb2.ACTION_STATUS_CANCELLED
    assert final.error.code == "CANCELLED"


def test_list_actions_pages_newest_first_and_filters(alice: Stubs, bob: Stubs) -> None:
    for _ in range(3):
        compress_stream(bob, JPEG.read_bytes())
    seen: list[actions_pb2.Action] = []
    token = ""
    while True:
        page = alice.actions.ListActions(
            actions_pb2.ListActionsRequest(page_size=2, page_token=token)
        )
        assert len(page.actions) <= 2
        seen.extend(page.actions)
        token = page.next_page_token
        if not token:
            break
    assert seen and all(a.owner == "alice" for a in seen)
    created = [a.created.ToDatetime() for a in seen]
    assert created == sorted(created, reverse=True)
    assert len({a.id for a in seen}) == len(seen)
    bobs = bob.actions.ListActions(actions_pb2.ListActionsRequest(page_size=100)).actions
    assert len(bobs) == 3 and all(a.owner == "bob" for a in bobs)
    failed = alice.actions.ListActions(
        actions_pb2.ListActionsRequest(status=actions_pb2.ACTION_STATUS_FAILED, page_size=100)
    ).actions
    assert failed and all(a.status == actions_pb2.ACTION_STATUS_FAILED for a in failed)


def test_tampered_or_foreign_page_tokens_are_invalid(alice: Stubs, bob: Stubs) -> None:
    compress_stream(alice, JPEG.read_bytes())
    compress_stream(alice, JPEG.read_bytes())
    page = alice.actions.ListActions(actions_pb2.ListActionsRequest(page_size=1))
    token = page.next_page_token
    assert token
    body, _, signature = token.partition(".")
    tampered = [
        body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1] + "." + signature,
        body + "." + signature[::-1],
        "garbage",
    ]
    for bad in tampered:
        error = rpc_error(
            alice.actions.ListActions, actions_pb2.ListActionsRequest(page_size=1, page_token=bad)
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    # a valid token, but for another owner or another filter
    error = rpc_error(
        bob.actions.ListActions, actions_pb2.ListActionsRequest(page_size=1, page_token=token)
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    error = rpc_error(
        alice.actions.ListActions,
        actions_pb2.ListActionsRequest(
            page_size=1, page_token=token, status=actions_pb2.ACTION_STATUS_FAILED
        ),
    )
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


@pytest.mark.parametrize(
    ("action_id", "code"),
    [(UNKNOWN_ID, grpc.StatusCode.NOT_FOUND), ("../etc/passwd", grpc.StatusCode.INVALID_ARGUMENT)],
)
def test_action_id_errors(alice: Stubs, action_id: str, code: grpc.StatusCode) -> None:
    assert (
        rpc_error(alice.actions.GetAction, actions_pb2.GetActionRequest(id=action_id)).code()
        == code
    )
    assert (
        rpc_error(alice.actions.CancelAction, actions_pb2.CancelActionRequest(id=action_id)).code()
        == code
    )


def test_page_size_out_of_range(alice: Stubs) -> None:
    error = rpc_error(alice.actions.ListActions, actions_pb2.ListActionsRequest(page_size=101))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT


# restart


def wait_running(stubs: Stubs, action_id: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (
        stubs.actions.GetAction(actions_pb2.GetActionRequest(id=action_id)).status
        != actions_pb2.ACTION_STATUS_RUNNING
    ):
        assert time.monotonic() < deadline, f"action {action_id} never started"
        time.sleep(0.05)


def stored_outputs(data_dir: Path) -> list[str]:
    """The ids of the output assets in the server's SQLite store, read beside it."""
    with contextlib.closing(sqlite3.connect(data_dir / "pixpress.db", timeout=30)) as conn:
        rows = conn.execute("SELECT id FROM assets WHERE origin = 'output'").fetchall()
    return [row[0] for row in rows]


def lease_of(data_dir: Path, action_id: str) -> tuple[str, str | None]:
    """The action's stored status and lease holder."""
    with contextlib.closing(sqlite3.connect(data_dir / "pixpress.db", timeout=30)) as conn:
        query = "SELECT status, lease_owner FROM actions WHERE id = ?"
        row: tuple[str, str | None] = conn.execute(query, (action_id,)).fetchone()
    return row


def test_a_server_killed_mid_work_reruns_its_background_actions_once_restarted(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1"])
    succeeded: dict[str, str] = {}
    with keyed_channel(server.address, key) as channel:
        stubs = Stubs(channel)
        small = upload(stubs, JPEG.read_bytes())
        for quality in (50, 60):
            done = wait_terminal(stubs, submit(stubs, small.id, quality).id)
            assert done.status == actions_pb2.ACTION_STATUS_SUCCEEDED
            _, output = download(stubs, done.response.output_asset_id)
            succeeded[done.response.output_asset_id] = hashlib.sha256(output).hexdigest()
        big = upload(stubs, big_png_bytes(scale=3))
        unfinished = [submit(stubs, big.id, quality).id for quality in (30, 40, 45)]
        wait_running(stubs, unfinished[0])
        # one worker: the others wait, QUEUED, until a worker takes them up
        waiting = stubs.actions.GetAction(actions_pb2.GetActionRequest(id=unfinished[2]))
        assert waiting.status == actions_pb2.ACTION_STATUS_QUEUED
        assert not waiting.HasField("started")
    kill_server(server)
    assert lease_of(data_dir, unfinished[0])[0] == "running"  # killed mid-work
    assert sorted(stored_outputs(data_dir)) == sorted(succeeded)

    restarted = start_server(data_dir, ["--workers", "1"])
    try:
        with keyed_channel(restarted.address, key) as channel:
            stubs = Stubs(channel)
            done = [wait_terminal(stubs, action_id, timeout=600) for action_id in unfinished]
            assert [action.status for action in done] == [actions_pb2.ACTION_STATUS_SUCCEEDED] * 3
            assert [action.request.quality for action in done] == [30, 40, 45]
            assert "its lease expired, running it again" in restarted.log
            # Completed once each: one output per re-run action, the earlier ones kept.
            named = [action.response.output_asset_id for action in done]
            assert sorted(stored_outputs(data_dir)) == sorted([*succeeded, *named])
            for action in done:
                meta, content = download(stubs, action.response.output_asset_id)
                assert hashlib.sha256(content).hexdigest() == meta.sha256
                assert content.startswith(b"\x89PNG") and meta.size == action.response.output_size
            for asset_id, digest in succeeded.items():
                meta, content = download(stubs, asset_id)
                assert hashlib.sha256(content).hexdigest() == digest == meta.sha256
            assert not list((data_dir / "tmp").iterdir())
    finally:
        assert restarted.stop() == 0


def test_a_stop_past_the_grace_hands_background_work_back_and_a_restart_finishes_it(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--shutdown-grace", "0.5"])
    with keyed_channel(server.address, key) as channel:
        stubs = Stubs(channel)
        action = submit(stubs, upload(stubs, big_png_bytes(scale=3)).id, quality=40)
        wait_running(stubs, action.id)
    assert server.stop() == 0, server.log  # SIGTERM: half a second of grace, then hand back
    assert f"action {action.id} handed back to the queue" in server.log
    assert lease_of(data_dir, action.id) == ("running", None)  # unfinished, not FAILED
    assert stored_outputs(data_dir) == []
    restarted = start_server(data_dir, ["--workers", "1"])
    try:
        with keyed_channel(restarted.address, key) as channel:
            final = wait_terminal(Stubs(channel), action.id, timeout=600)
        assert final.status == actions_pb2.ACTION_STATUS_SUCCEEDED, final
        assert not final.HasField("error")
        assert stored_outputs(data_dir) == [final.response.output_asset_id]
    finally:
        assert restarted.stop() == 0
