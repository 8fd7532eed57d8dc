"""Client.routes / assets / actions and submit_compress against the in-process platform fakes."""

from __future__ import annotations

import contextlib
import hashlib
import os
from datetime import UTC, datetime

import grpc
import pixpress
import pytest
from pixpress import ActionStatus

from tests.unit.client_platform_fakes import (
    CANCELLED,
    FAILED,
    NO_INPUT_MESSAGE,
    QUEUED,
    ROUTE_ID,
    ROUTE_IDENTIFIER,
    RUNNING,
    SUCCEEDED,
    T0,
    platform_server,
)

KIB = 1024


@pytest.fixture
def platform():
    with platform_server() as running:
        yield running


@pytest.fixture
def state(platform):
    return platform[1]


@pytest.fixture
def client(platform):
    with pixpress.Client(platform[0], api_key="secret") as client:
        yield client


@pytest.fixture
def asset(client):
    return client.assets.upload(b"jpeg-ish bytes")


# -- routes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", [ROUTE_IDENTIFIER, ROUTE_ID])
def test_route_by_identifier_or_id_converts_every_field(client, name):
    route = client.routes.retrieve(name)
    assert isinstance(route, pixpress.Route)
    assert (route.id, route.identifier, route.owner, route.name) == (
        ROUTE_ID,
        ROUTE_IDENTIFIER,
        "pixpress",
        "compress-an-image",
    )
    assert route.visibility == "public"
    assert route.visibility is pixpress.Visibility.PUBLIC
    assert route.description.startswith("Compress an image")
    assert route.metadata == {
        "parameters": {
            "quality": {
                "type": "integer",
                "description": "1 (smallest) to 100 (lossless only)",
                "default": 80,
                "minimum": 1,
                "maximum": 100,
            },
            "keep_metadata": {
                "type": "boolean",
                "description": "keep EXIF, XMP, IPTC",
                "default": False,
            },
        },
        "formats": ["jpeg", "png", "webp", "gif", "avif", "heif", "tiff"],
        "limits": {"max_input_bytes": 268435456, "max_pixels": 268402689, "max_frames": 1000},
        "rpcs": [
            "pixpress.v1.CompressService/Compress",
            "pixpress.v1.CompressService/SubmitCompress",
        ],
    }
    assert route.client is client
    assert "client" not in repr(route)


def test_unknown_route_is_not_found(client):
    with pytest.raises(pixpress.NotFoundError, match="no route nobody/nothing"):
        client.routes.retrieve("nobody/nothing")


def test_route_use_submits_waits_and_returns_the_finished_action(client, state, asset):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    action = route.use(body={"quality": 85}, input_asset={"assetId": asset.id, "assetType": "file"})
    assert action.status is ActionStatus.SUCCEEDED
    assert action["status"] == "succeeded" and action["response_data"]["output_asset_id"]
    assert (action.route_id, action.request.quality, action.request.input_asset_id) == (
        ROUTE_ID,
        85,
        asset.id,
    )
    assert state.methods()[-2:] == ["SubmitCompress", "WatchAction"]
    request, metadata = state.last("SubmitCompress")
    assert request.options.quality == 85
    assert request.options.input_asset_id == asset.id
    assert request.options.store_output is True
    assert metadata["authorization"] == "Bearer secret"
    assert state.last("WatchAction")[0].id == action.id


def test_route_use_without_wait_returns_the_queued_action(client, state, asset):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    action = route.use(body={"quality": 85}, input_asset=asset, wait=False)
    assert action.status is ActionStatus.QUEUED and not action.status.is_terminal
    assert action["response_data"] is None
    assert state.methods()[-1] == "SubmitCompress"
    assert client.actions.wait(action.id).status is ActionStatus.SUCCEEDED


def test_route_use_returns_a_failed_action_rather_than_raising(client, state, asset):
    state.watch_mode = "break"  # the wait polls: it still ends on the terminal status
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    state.add_action = _failing(state.add_action)
    action = route.use(input_asset=asset, poll_interval=0.01)
    assert action.status is ActionStatus.FAILED
    assert action["error"] == {"code": "INVALID_ARGUMENT", "message": "corrupt"}
    assert action.get("response_data") is None


def _failing(add_action):
    """Wrap PlatformState.add_action so the next actions run to FAILED."""

    def add(*args, **kwargs):
        return add_action(*args, **{**kwargs, "script": [RUNNING, FAILED]})

    return add


def test_route_use_without_an_input_asset_returns_the_failed_action(client, state):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    action = route.use(body={"quality": 85})
    assert action.status is ActionStatus.FAILED
    assert action.error == pixpress.ActionError("INVALID_ARGUMENT", NO_INPUT_MESSAGE)
    request, _ = state.last("SubmitCompress")
    assert request.options.input_asset_id == "" and request.options.quality == 85
    assert "WatchAction" not in state.methods()  # already terminal: nothing to wait for


def test_route_use_timeout_bounds_the_wait(client, state, asset):
    state.watch_mode = "end"
    state.add_action = _stuck(state.add_action)
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    with pytest.raises(pixpress.WaitTimeoutError) as caught:
        route.use(input_asset=asset, timeout=0.3, poll_interval=0.05)
    request, _ = state.last("SubmitCompress")
    assert caught.value.action_id == next(reversed(state.actions))
    assert caught.value.last_action.status is ActionStatus.RUNNING
    assert request.options.input_asset_id == asset.id


def _stuck(add_action):
    def add(*args, **kwargs):
        return add_action(*args, **{**kwargs, "script": [RUNNING] * 1000})

    return add


@pytest.mark.parametrize("form", ["id", "asset", "mapping-without-type"])
def test_route_use_accepts_every_input_asset_form(client, state, asset, form):
    input_asset = {
        "id": asset.id,
        "asset": asset,
        "mapping-without-type": {"assetId": asset.id},
    }[form]
    action = client.routes.retrieve(ROUTE_ID).use(input_asset=input_asset)
    assert action.request.input_asset_id == asset.id
    request, _ = state.last("SubmitCompress")
    assert not request.options.HasField("quality")  # the route's default applies


@pytest.mark.parametrize(
    ("body", "input_asset", "message"),
    [
        (
            {"quality": 150},
            "a",
            "Expected integer between 1 and 100 for quality but received 150",
        ),
        ({"quality": 0}, "a", "Expected integer between 1 and 100 for quality but received 0"),
        ({"quality": "85"}, "a", "for quality but received '85'"),
        ({"quality": True}, "a", "for quality but received True"),
        ({"keep_metadata": 1}, "a", "Expected boolean for keep_metadata but received 1"),
        ({"qualty": 80}, "a", "Unknown parameter 'qualty' for route pixpress/compress-an-image"),
        ({}, "", "Expected non-empty string for input_asset but received ''"),
        ({}, {"assetId": "a", "assetType": "url"}, "Expected 'file' for input_asset.assetType"),
        ({}, {"asset_id": "a"}, "Unknown key 'asset_id' in input_asset"),
        ({}, {"assetType": "file"}, "for input_asset.assetId but received None"),
        ({}, 42, "for input_asset but received 42"),
        ({"quality": 85}, {"assetId": None}, "for input_asset.assetId but received None"),
    ],
)
def test_route_use_validates_before_any_call(client, state, body, input_asset, message):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    before = len(state.calls)
    with pytest.raises(pixpress.InvalidOptionsError, match=message) as caught:
        route.use(body=body, input_asset=input_asset)
    assert isinstance(caught.value, ValueError) and caught.value.action_id == ""
    assert len(state.calls) == before


def test_route_use_unknown_asset_is_not_found(client):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    with pytest.raises(pixpress.NotFoundError):
        route.use(input_asset="missing")


def test_route_read_actions_filters_by_route(client, state, asset):
    route = client.routes.retrieve(ROUTE_IDENTIFIER)
    first = route.use(input_asset=asset)
    second = route.use(input_asset=asset)
    page = route.read_actions(page_size=5)
    assert [a.id for a in page] == [second.id, first.id]  # newest first
    assert len(page) == 2 and page[0].id == second.id
    assert page.next_page_token == ""
    request = state.calls[-1][1]
    assert (request.route_id, request.page_size) == (ROUTE_ID, 5)


# -- assets ---------------------------------------------------------------------------------


def test_upload_bytes_in_256_kib_chunks(client, state):
    data = os.urandom(700 * KIB)
    asset = client.assets.upload(data)
    assert state.upload_chunk_sizes[-1] == [256 * KIB, 256 * KIB, 188 * KIB]
    assert isinstance(asset, pixpress.Asset)
    assert (asset.owner, asset.size, asset.format) == ("owner-1", len(data), "jpeg")
    assert asset.sha256 == hashlib.sha256(data).hexdigest()
    assert asset.created == T0
    assert asset.created.tzinfo is UTC


def test_upload_a_path_and_retrieve(tmp_path, platform):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"x" * 3000)
    with pixpress.Client(platform[0], chunk_size=1000) as client:
        asset = client.assets.upload(path)
        assert platform[1].upload_chunk_sizes[-1] == [1000, 1000, 1000, 8]
        assert client.assets.retrieve(asset.id) == asset
    assert asset.format == "png"


def test_upload_missing_file_fails_before_any_call(tmp_path, client, state):
    with pytest.raises(FileNotFoundError):
        client.assets.upload(tmp_path / "missing.jpg")
    assert state.calls == []


def test_upload_rejected_is_invalid_argument(client):
    with pytest.raises(pixpress.InvalidArgumentError, match="unsupported format"):
        client.assets.upload(b"ABORT")


def test_download_streams_into_the_file(tmp_path, client):
    data = os.urandom(300 * KIB + 5)
    asset = client.assets.upload(data)
    target = tmp_path / "out.jpg"
    assert client.assets.download(asset.id, target) == target
    assert target.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]


def test_download_into_a_directory_names_the_file_by_id(tmp_path, client, asset):
    assert client.assets.download(asset.id, tmp_path) == tmp_path / f"{asset.id}.jpg"


def test_download_corrupt_bytes_leave_nothing(tmp_path, client, state, asset):
    target = tmp_path / "out.jpg"
    target.write_bytes(b"previous")
    state.corrupt_downloads = True
    with pytest.raises(pixpress.InternalError, match="SHA-256"):
        client.assets.download(asset.id, target)
    assert target.read_bytes() == b"previous"  # never half replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg"]


def test_download_unknown_asset_leaves_nothing(tmp_path, client):
    with pytest.raises(pixpress.NotFoundError):
        client.assets.download("missing", tmp_path / "x.jpg")
    assert list(tmp_path.iterdir()) == []


def test_delete(client, asset):
    client.assets.delete(asset.id)
    with pytest.raises(pixpress.NotFoundError):
        client.assets.retrieve(asset.id)
    with pytest.raises(pixpress.NotFoundError):
        client.assets.delete(asset.id)


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.assets.retrieve(""),
        lambda c: c.assets.delete(""),
        lambda c: c.assets.download("", "x"),
        lambda c: c.actions.retrieve(""),
        lambda c: c.actions.cancel(""),
        lambda c: c.actions.watch(""),
        lambda c: c.routes.retrieve(""),
        lambda c: c.submit_compress(""),
    ],
)
def test_empty_ids_are_rejected_before_any_call(client, state, call):
    with pytest.raises(ValueError, match="Expected non-empty string"):
        call(client)
    assert state.calls == []


# -- compress with assets -------------------------------------------------------------------


def test_compress_a_stored_asset_sends_no_chunks(client, state, asset):
    result = client.compress(input_asset_id=asset.id, quality=60, store_output=True)
    assert result.data == b"jpeg-ish bytes"[::-1]
    assert result.action_id.startswith("action-")
    assert result.output_asset_id == f"stored-{result.action_id}"
    seen = state.compress_calls[-1]
    assert seen.kinds == ["options"]
    options = seen.options
    assert (options.input_asset_id, options.quality, options.store_output) == (asset.id, 60, True)


@pytest.mark.parametrize(
    "kwargs", [{}, {"data_or_path": b"abc", "input_asset_id": "a"}], ids=["neither", "both"]
)
def test_compress_needs_exactly_one_input(client, state, kwargs):
    with pytest.raises(ValueError, match="exactly one of data_or_path or input_asset_id"):
        client.compress(**kwargs)
    assert state.compress_calls == []


def test_compress_an_unknown_asset_is_not_found(client):
    with pytest.raises(pixpress.NotFoundError, match="no asset nope"):
        client.compress(input_asset_id="nope")


def test_submit_compress(client, state, asset):
    action = client.submit_compress(asset.id, quality=42, keep_metadata=True)
    assert action.status is ActionStatus.QUEUED
    assert (action.request.quality, action.request.keep_metadata) == (42, True)
    options = state.calls[-1][1].options
    assert (options.input_asset_id, options.quality, options.store_output) == (asset.id, 42, True)


def test_submit_compress_validates(client):
    with pytest.raises(ValueError, match="for quality but received 101"):
        client.submit_compress("a", quality=101)


# -- actions --------------------------------------------------------------------------------


def test_action_conversion_of_every_field(client, state, asset):
    action_id = state.add_action(SUCCEEDED, input_asset_id=asset.id).id
    action = client.actions.retrieve(action_id)
    assert action.status is ActionStatus.SUCCEEDED and action.status.is_terminal
    assert (action.id, action.route_id, action.owner) == (action_id, ROUTE_ID, "owner-1")
    assert action.request == pixpress.ActionRequest(
        quality=80,
        keep_metadata=False,
        input_asset_id=asset.id,
        input_size=asset.size,
        input_format="jpeg",
        store_output=True,
    )
    output = state.actions[action_id].response.output_asset_id
    assert action.response == pixpress.ActionResponse(
        format="jpeg",
        output_size=asset.size,
        width=3,
        height=2,
        frames=1,
        kept_original=False,
        kept_original_reason="",
        output_asset_id=output,
        stages=(pixpress.Stage("encode", asset.size, 2.0),),
    )
    assert action.error is None
    assert action.created == T0
    assert action.started is None  # never went through RUNNING
    assert action.finished == datetime(2025, 1, 2, 3, 6, 5, tzinfo=UTC)


def test_failed_action_has_an_error_and_no_response(client, state):
    action = client.actions.retrieve(state.add_action(FAILED).id)
    assert action.status is ActionStatus.FAILED
    assert action.error == pixpress.ActionError("INVALID_ARGUMENT", "corrupt")
    assert action.response is None


def test_queued_action_has_no_times_but_created(client, state):
    action = client.actions.retrieve(state.add_action(script=[]).id)
    assert (action.started, action.finished, action.response, action.error) == (
        None,
        None,
        None,
        None,
    )


def test_list_pages_and_filters(client, state):
    ids = [state.add_action(script=[]).id for _ in range(5)]
    state.add_action(SUCCEEDED)
    first = client.actions.list(page_size=2, status="queued")
    assert [a.id for a in first] == [ids[4], ids[3]]
    assert first.next_page_token
    second = client.actions.list(
        page_size=2, status=ActionStatus.QUEUED, page_token=first.next_page_token
    )
    assert [a.id for a in second] == [ids[2], ids[1]]
    request = state.calls[-1][1]
    assert request.status == QUEUED
    assert [a.id for a in client.actions.iter(page_size=2, status="queued")] == ids[::-1]
    assert len(list(client.actions.iter())) == 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"page_size": 0}, "Expected integer between 1 and 100 for page_size but received 0"),
        ({"page_size": 101}, "received 101"),
        ({"status": "done"}, "for status but received 'done'"),
    ],
)
def test_list_validates(client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        client.actions.list(**kwargs)


def test_cancel(client, state):
    action_id = state.add_action().id
    cancelled = client.actions.cancel(action_id)
    assert cancelled.status is ActionStatus.CANCELLED
    assert cancelled.error == pixpress.ActionError("CANCELLED", "cancelled by the caller")
    with pytest.raises(pixpress.FailedPreconditionError):
        client.actions.cancel(action_id)


def test_watch_streams_each_status_until_terminal(client, state):
    action_id = state.add_action().id
    statuses = [a.status for a in client.actions.watch(action_id)]
    assert statuses == ["queued", "running", "succeeded"]
    assert state.methods().count("GetAction") == 0


@pytest.mark.parametrize("mode", ["break", "end", "unimplemented"])
def test_watch_falls_back_to_polling(client, state, mode):
    state.watch_mode = mode
    action_id = state.add_action().id
    statuses = [a.status for a in client.actions.watch(action_id, poll_interval=0.01)]
    expected = (
        ["running", "succeeded"] if mode == "unimplemented" else ["queued", "running", "succeeded"]
    )
    assert statuses == expected
    assert state.methods().count("GetAction") == 2


def test_watch_reports_only_changes_while_polling(client, state):
    state.watch_mode = "break"
    action_id = state.add_action(script=[QUEUED, RUNNING, RUNNING, SUCCEEDED]).id
    statuses = [a.status for a in client.actions.watch(action_id, poll_interval=0.01)]
    assert statuses == ["queued", "running", "succeeded"]


def test_wait_returns_the_terminal_action(client, state, asset):
    action = client.submit_compress(asset.id)
    done = client.actions.wait(action.id)
    assert done.status is ActionStatus.SUCCEEDED
    assert client.assets.retrieve(done.response.output_asset_id).size == asset.size


def test_wait_falls_back_to_polling_when_the_stream_breaks(client, state):
    state.watch_mode = "break"
    action_id = state.add_action(script=[RUNNING, FAILED]).id
    done = client.actions.wait(action_id, poll_interval=0.01)
    assert done.status is ActionStatus.FAILED
    assert state.methods() == ["WatchAction", "GetAction", "GetAction"]


def test_wait_times_out_with_the_last_status(client, state):
    state.watch_mode = "end"
    action_id = state.add_action(script=[RUNNING] * 1000).id
    with pytest.raises(pixpress.WaitTimeoutError) as caught:
        client.actions.wait(action_id, timeout=0.2, poll_interval=0.05)
    error = caught.value
    assert isinstance(error, pixpress.DeadlineExceededError)
    assert error.code is grpc.StatusCode.DEADLINE_EXCEEDED
    assert str(error) == f"action {action_id} did not finish within 0.2 s (last status: running)"
    assert error.action_id == action_id
    assert error.last_action.status is ActionStatus.RUNNING


def test_wait_on_an_unknown_action_is_not_found_without_polling(client, state):
    with pytest.raises(pixpress.NotFoundError):
        client.actions.wait("missing")
    assert state.methods() == ["WatchAction"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": -1}, "Expected non-negative number for timeout but received -1"),
        ({"poll_interval": 0}, "Expected positive number for poll_interval"),
    ],
)
def test_wait_validates(client, kwargs, message):
    with pytest.raises(ValueError, match=message):
        client.actions.wait("a", **kwargs)


def test_stopping_a_watch_early_cancels_the_stream(client, state):
    action_id = state.add_action(script=[RUNNING, CANCELLED]).id
    with contextlib.closing(client.actions.watch(action_id)) as updates:
        first = next(updates)
    assert first.status is ActionStatus.QUEUED
