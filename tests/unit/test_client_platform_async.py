"""AsyncClient.routes / assets / actions against the in-process platform fakes."""

from __future__ import annotations

import os

import pixpress
import pytest
from pixpress import ActionStatus

from tests.unit.client_platform_fakes import (
    FAILED,
    NO_INPUT_MESSAGE,
    ROUTE_ID,
    ROUTE_IDENTIFIER,
    RUNNING,
    SUCCEEDED,
    platform_server,
)

KIB = 1024
# The client fixture lives on the session loop (asyncio_default_fixture_loop_scope).
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
def platform():
    with platform_server() as running:
        yield running


@pytest.fixture
def state(platform):
    return platform[1]


@pytest.fixture
async def client(platform):
    async with pixpress.AsyncClient(platform[0], api_key="k") as client:
        yield client


async def test_route_use_and_read_actions(client, state):
    asset = await client.assets.upload(b"image bytes")
    route = await client.routes.retrieve(ROUTE_IDENTIFIER)
    assert isinstance(route, pixpress.AsyncRoute)
    assert (route.id, route.metadata["parameters"]["quality"]["maximum"]) == (ROUTE_ID, 100)
    action = await route.use(body={"quality": 85, "keep_metadata": True}, input_asset=asset)
    assert action.status is ActionStatus.SUCCEEDED and action["status"] == "succeeded"
    assert (action.request.quality, action.request.keep_metadata) == (85, True)
    assert state.methods()[-2:] == ["SubmitCompress", "WatchAction"]
    queued = await route.use(input_asset=asset, wait=False)
    assert queued.status is ActionStatus.QUEUED
    assert state.methods()[-1] == "SubmitCompress"
    page = await route.read_actions()
    assert [a.id for a in page] == [queued.id, action.id]
    with pytest.raises(pixpress.InvalidOptionsError, match="Expected integer between 1 and 100"):
        await route.use(body={"quality": 150}, input_asset=asset)


async def test_route_use_without_an_input_asset_returns_the_failed_action(client, state):
    route = await client.routes.retrieve(ROUTE_ID)
    action = await route.use(body={"quality": 85})
    assert action.status is ActionStatus.FAILED
    assert action["error"] == {"code": "INVALID_ARGUMENT", "message": NO_INPUT_MESSAGE}


async def test_route_use_timeout_bounds_the_wait(client, state):
    asset = await client.assets.upload(b"image bytes")
    state.watch_mode = "end"
    add_action = state.add_action
    state.add_action = lambda *a, **k: add_action(*a, **{**k, "script": [RUNNING] * 1000})
    route = await client.routes.retrieve(ROUTE_ID)
    with pytest.raises(pixpress.WaitTimeoutError) as caught:
        await route.use(input_asset=asset, timeout=0.3, poll_interval=0.05)
    assert caught.value.action_id == next(reversed(state.actions))


async def test_upload_path_download_delete(tmp_path, client, state):
    data = os.urandom(600 * KIB)
    source = tmp_path / "in.jpg"
    source.write_bytes(data)
    asset = await client.assets.upload(source)
    assert state.upload_chunk_sizes[-1] == [256 * KIB, 256 * KIB, 88 * KIB]
    assert await client.assets.retrieve(asset.id) == asset
    target = await client.assets.download(asset.id, tmp_path / "out.jpg")
    assert target.read_bytes() == data
    await client.assets.delete(asset.id)
    with pytest.raises(pixpress.NotFoundError):
        await client.assets.download(asset.id, tmp_path / "gone.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jpg", "out.jpg"]


async def test_compress_stored_asset_and_submit(client, state):
    asset = await client.assets.upload(b"stored")
    result = await client.compress(input_asset_id=asset.id, store_output=True)
    assert result.data == b"derots"
    assert result.output_asset_id == f"stored-{result.action_id}"
    assert state.compress_calls[-1].kinds == ["options"]
    with pytest.raises(ValueError, match="exactly one"):
        await client.compress(b"x", input_asset_id=asset.id)
    action = await client.submit_compress(asset.id, quality=50)
    done = await client.actions.wait(action.id)
    assert done.status is ActionStatus.SUCCEEDED
    assert done.response.output_asset_id in state.assets


async def test_list_iter_cancel(client, state):
    ids = [state.add_action(script=[]).id for _ in range(3)]
    page = await client.actions.list(page_size=2)
    assert [a.id for a in page] == [ids[2], ids[1]]
    assert [a.id async for a in client.actions.iter(page_size=1)] == ids[::-1]
    cancelled = await client.actions.cancel(ids[0])
    assert cancelled.status is ActionStatus.CANCELLED
    assert (await client.actions.retrieve(ids[0])).status is ActionStatus.CANCELLED


async def test_watch_stream(client, state):
    action_id = state.add_action().id
    assert [a.status async for a in client.actions.watch(action_id)] == [
        "queued",
        "running",
        "succeeded",
    ]


async def test_wait_falls_back_to_polling(client, state):
    state.watch_mode = "break"
    action_id = state.add_action(script=[RUNNING, FAILED]).id
    done = await client.actions.wait(action_id, poll_interval=0.01)
    assert done.status is ActionStatus.FAILED
    assert done.error.code == "INVALID_ARGUMENT"
    assert state.methods() == ["WatchAction", "GetAction", "GetAction"]


async def test_wait_times_out(client, state):
    state.watch_mode = "end"
    action_id = state.add_action(script=[RUNNING] * 1000).id
    with pytest.raises(pixpress.WaitTimeoutError, match=r"did not finish within 0\.1 s"):
        await client.actions.wait(action_id, timeout=0.1, poll_interval=0.02)


async def test_early_exit_from_watch(client, state):
    action_id = state.add_action(script=[RUNNING, SUCCEEDED]).id
    updates = client.actions.watch(action_id)
    async for action in updates:
        assert action.status is ActionStatus.QUEUED
        break
    await updates.aclose()
