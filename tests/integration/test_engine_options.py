"""effort, target_score and max_bytes through a real server: bad values are INVALID_ARGUMENT
in sharp's message shape, good ones are applied, echoed in the result and recorded on the
action, on the wire, through the SDK, route.use and the CLI; reflection describes them."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
import pyvips
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from pixpress import Client, InvalidArgumentError
from pixpress.v1 import actions_pb2, compress_pb2, routes_pb2

from tests.integration.server_process import (
    ServerProcess,
    Stubs,
    create_key,
    keyed_channel,
    start_server,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
ROUTE = "pixpress/compress-an-image"
CHUNK = 256 * 1024
WAIT = 120.0

BAD_OPTIONS = [
    ({"effort": 0}, "Expected integer between 1 and 10 for effort but received 0"),
    ({"effort": 11}, "Expected integer between 1 and 10 for effort but received 11"),
    (
        {"target_score": 29.9},
        "Expected number between 30 and 95 for target_score but received 29.9",
    ),
    (
        {"target_score": 95.1},
        "Expected number between 30 and 95 for target_score but received 95.1",
    ),
    (
        {"target_score": math.nan},
        "Expected number between 30 and 95 for target_score but received nan",
    ),
    ({"quality": 80, "target_score": 80.0}, "Send quality or target_score, not both"),
    ({"max_bytes": 0}, "Expected integer at least 1 for max_bytes but received 0"),
]
BAD_IDS = [
    "effort-0",
    "effort-11",
    "score-29.9",
    "score-95.1",
    "score-nan",
    "quality-and-score",
    "max-bytes-0",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    data_dir = tmp_path_factory.mktemp("engine-options")
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "2"])
    yield server, key
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def stubs(server: tuple[ServerProcess, str]) -> Iterator[Stubs]:
    process, key = server
    with keyed_channel(process.address, key) as channel:
        yield Stubs(channel)


@pytest.fixture(scope="module")
def client(server: tuple[ServerProcess, str]) -> Iterator[Client]:
    process, key = server
    with Client(process.address, api_key=key, timeout=WAIT) as sdk:
        yield sdk


def compress(stubs: Stubs, **options: Any) -> list[compress_pb2.CompressResponse]:
    data = JPEG.read_bytes()
    first = compress_pb2.CompressRequest(options=compress_pb2.CompressOptions(**options))
    chunks = [
        compress_pb2.CompressRequest(chunk=data[i : i + CHUNK]) for i in range(0, len(data), CHUNK)
    ]
    return list(stubs.compress.Compress(iter([first, *chunks]), timeout=WAIT))


def refusal(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(*args, **kwargs)
    return raised.value


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS, ids=BAD_IDS)
def test_bad_values_are_invalid_argument_on_compress(
    stubs: Stubs, options: dict[str, Any], message: str
) -> None:
    error = refusal(compress, stubs, **options)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS, ids=BAD_IDS)
def test_bad_values_are_invalid_argument_on_submit(
    stubs: Stubs, client: Client, options: dict[str, Any], message: str
) -> None:
    asset = client.assets.upload(JPEG)
    request = compress_pb2.SubmitCompressRequest(
        options=compress_pb2.CompressOptions(input_asset_id=asset.id, **options)
    )
    error = refusal(stubs.compress.SubmitCompress, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details() == message


def test_effort_is_applied_echoed_and_recorded(stubs: Stubs) -> None:
    for effort in (1, 10):
        responses = compress(stubs, quality=70, effort=effort)
        result = responses[1].result
        assert (result.effort, result.quality) == (effort, 70)
        assert not result.HasField("score") and not result.HasField("budget_met")
        action = stubs.get_action(responses[0].action_id)
        assert action.status == actions_pb2.ACTION_STATUS_SUCCEEDED
        assert (action.request.effort, action.request.quality) == (effort, 70)
        assert (action.response.effort, action.response.quality) == (effort, 70)
        assert not action.request.HasField("target_score")
        assert not action.request.HasField("max_bytes")


def test_effort_defaults_to_5(client: Client) -> None:
    result = client.compress(JPEG)
    assert (result.effort, result.quality, result.score, result.budget_met) == (5, 80, None, None)
    action = client.actions.retrieve(result.action_id)
    assert (action.request.effort, action.request.quality) == (5, 80)


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 480x320 crop of the JPEG fixture saved at q 90: a search costs several encodes, and
    a small photo keeps each one cheap."""
    path = tmp_path_factory.mktemp("photo") / "crop.jpg"
    pyvips.Image.new_from_file(str(JPEG)).crop(600, 400, 480, 320).jpegsave(str(path), Q=90)
    return path


def test_target_score_is_reached_echoed_and_recorded(client: Client, photo: Path) -> None:
    result = client.compress(photo, target_score=70, effort=3)
    assert result.score is not None and result.score >= 70  # reachable: a q 90 photo
    assert (result.effort, result.budget_met) == (3, None)
    assert 1 <= result.quality <= 100
    assert result.output_size <= result.input_size
    action = client.actions.retrieve(result.action_id)
    assert (action.request.target_score, action.request.quality) == (70.0, 0)
    assert action.request.max_bytes is None
    assert action.response is not None
    assert (action.response.quality, action.response.effort) == (result.quality, 3)
    assert action.response.score == result.score
    assert action["request_data"]["target_score"] == 70.0


def test_max_bytes_is_met_echoed_and_recorded(client: Client, photo: Path) -> None:
    budget = 10 * 1024 * 1024  # far above the output: nothing has to give
    result = client.compress(photo, quality=75, max_bytes=budget)
    assert (result.score, result.budget_met) == (None, True)
    assert result.output_size <= min(budget, result.input_size)
    assert 1 <= result.quality <= 75  # quality is the ceiling of a budget search
    action = client.actions.retrieve(result.action_id)
    assert (action.request.max_bytes, action.request.quality) == (budget, 75)
    assert action.request.target_score is None
    assert action.response is not None
    assert (action.response.budget_met, action.response.quality) == (True, result.quality)


def test_a_budget_nothing_fits_says_so(client: Client, photo: Path) -> None:
    result = client.compress(photo, max_bytes=100)
    assert result.budget_met is False
    assert 100 < result.output_size <= result.input_size
    assert client.actions.retrieve(result.action_id)["response_data"]["budget_met"] is False


def test_target_score_with_a_budget_reports_both(client: Client, photo: Path) -> None:
    fits = client.compress(photo, target_score=70, max_bytes=10 * 1024 * 1024)
    assert fits.budget_met is True and fits.score is not None and fits.score >= 70
    tight = client.compress(photo, target_score=90, max_bytes=100)
    assert tight.budget_met is False and tight.score is not None
    action = client.actions.retrieve(tight.action_id)
    assert (action.request.target_score, action.request.max_bytes) == (90.0, 100)


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS, ids=BAD_IDS)
def test_the_sdk_refuses_first_in_the_servers_words(
    client: Client, options: dict[str, Any], message: str
) -> None:
    before = client.actions.list(page_size=1)
    with pytest.raises(InvalidArgumentError) as raised:
        client.compress(JPEG, **options)
    assert str(raised.value) == message
    assert client.actions.list(page_size=1).actions == before.actions  # no call was made


def test_route_describes_the_new_parameters(stubs: Stubs, client: Client) -> None:
    route = stubs.routes.GetRoute(routes_pb2.GetRouteRequest(route=ROUTE))
    parameters = {p.name: p for p in route.parameters}
    effort = parameters["effort"]
    assert (effort.type, effort.minimum, effort.maximum, effort.default_json) == (
        "integer",
        1,
        10,
        "5",
    )
    assert effort.description
    score = parameters["target_score"]
    assert (score.type, score.minimum, score.maximum, score.default_json) == (
        "number",
        30,
        95,
        "",
    )
    budget = parameters["max_bytes"]
    assert (budget.type, budget.minimum, budget.HasField("maximum")) == ("integer", 1, False)
    schema = client.routes.retrieve(ROUTE).parameters
    assert schema["target_score"]["type"] == "number"
    assert (schema["effort"]["default"], schema["max_bytes"]["minimum"]) == (5, 1)


def test_route_use_sends_the_engine_options(client: Client, photo: Path) -> None:
    route = client.routes.retrieve(ROUTE)
    asset = client.assets.upload(photo)
    action = route.use(body={"effort": 2, "target_score": 75}, input_asset=asset, timeout=WAIT)
    assert action["status"] == "succeeded", action.error
    assert action["request_data"]["effort"] == 2
    assert action["request_data"]["target_score"] == 75.0
    assert action["response_data"]["effort"] == 2
    assert action["response_data"]["score"] >= 75
    budget = route.use(body={"max_bytes": 5_000_000}, input_asset=asset, timeout=WAIT)
    assert budget["request_data"]["max_bytes"] == 5_000_000
    assert budget["request_data"]["quality"] == 80
    assert budget["response_data"]["budget_met"] is True


def pixpress(server: tuple[ServerProcess, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """`python -m pixpress.cli ARGV` as the key's owner; asserts exit 0."""
    process, key = server
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env |= {"PIXPRESS_SERVER": process.address, "PIXPRESS_API_KEY": key, "COLUMNS": "200"}
    completed = subprocess.run(
        [sys.executable, "-m", "pixpress.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return completed


def test_cli_flags_reach_the_server(
    server: tuple[ServerProcess, str], client: Client, photo: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.jpg"
    argv = ["compress", str(photo), "-o", str(out), "--effort", "2", "--max-bytes", "1MiB"]
    printed = pixpress(server, *argv).stderr  # the summary; stdout carries only data
    assert "max bytes 1,048,576, effort 2" in printed
    assert "over budget" in printed
    assert 0 < out.stat().st_size <= photo.stat().st_size
    argv = ["compress", str(photo), "-o", str(out), "--target-score", "70", "--force"]
    scored = pixpress(server, *argv).stderr
    assert "target score 70.0" in scored and "median score" in scored
    submitted = pixpress(
        server, "compress", "--async", str(photo), "--effort", "4", "--target-score", "70"
    ).stdout
    action = client.actions.wait(submitted.strip(), timeout=WAIT)
    assert (action.request.effort, action.request.target_score) == (4, 70.0)
    assert action["status"] == "succeeded", action.error


def test_reflection_describes_the_new_fields(server: tuple[ServerProcess, str]) -> None:
    process, _ = server
    with grpc.insecure_channel(process.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        file = database.FindFileContainingSymbol("pixpress.v1.CompressOptions")
    messages = {m.name: m for m in file.message_type}
    options = {f.name: f for f in messages["CompressOptions"].field}
    assert (options["effort"].number, options["effort"].proto3_optional) == (5, True)
    assert options["target_score"].type == options["target_score"].TYPE_DOUBLE
    assert options["max_bytes"].type == options["max_bytes"].TYPE_UINT64
    result = {f.name for f in messages["CompressResult"].field}
    assert {"effort", "score", "budget_met", "quality"} <= result
