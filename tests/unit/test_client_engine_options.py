"""effort, target_score and max_bytes in the SDK: checked before any call, sent only when
given, and read back from results and actions."""

from __future__ import annotations

import math
from typing import Any

import pixpress
import pytest
from pixpress._convert import (
    action_from_pb,
    compress_options,
    result_from_pb,
    submit_compress_request,
)
from pixpress._models import RouteFields, Visibility
from pixpress._routes import submit_arguments
from pixpress.v1 import actions_pb2, compress_pb2

ROUTE = RouteFields(
    id="route-1",
    identifier="pixpress/compress-an-image",
    owner="pixpress",
    name="compress-an-image",
    visibility=Visibility.PUBLIC,
    description="",
    metadata={
        "parameters": {
            "quality": {"type": "integer", "minimum": 1, "maximum": 100, "default": 80},
            "keep_metadata": {"type": "boolean", "default": False},
            "effort": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            "target_score": {"type": "number", "minimum": 30, "maximum": 95},
            "max_bytes": {"type": "integer", "minimum": 1},
        }
    },
)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"effort": 0}, "Expected integer between 1 and 10 for effort but received 0"),
        ({"effort": 11}, "Expected integer between 1 and 10 for effort but received 11"),
        ({"effort": 5.0}, "Expected integer between 1 and 10 for effort but received 5.0"),
        ({"effort": True}, "Expected integer between 1 and 10 for effort but received True"),
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
        (
            {"target_score": "80"},
            "Expected number between 30 and 95 for target_score but received '80'",
        ),
        ({"max_bytes": 0}, "Expected integer at least 1 for max_bytes but received 0"),
        ({"max_bytes": -1}, "Expected integer at least 1 for max_bytes but received -1"),
        ({"max_bytes": 1.5}, "Expected integer at least 1 for max_bytes but received 1.5"),
        ({"max_bytes": 2**64}, f"for max_bytes but received {2**64}"),
        ({"quality": 80, "target_score": 80}, "Send quality or target_score, not both"),
    ],
)
def test_bad_engine_options_are_refused_in_the_servers_words(
    options: dict[str, Any], message: str
) -> None:
    arguments: dict[str, Any] = {"quality": None, **options}
    quality = arguments.pop("quality")
    with pytest.raises(pixpress.InvalidOptionsError) as caught:
        compress_options(quality, False, **arguments)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_unset_options_are_not_sent() -> None:
    options = compress_options(None, False)
    for name in ("quality", "effort", "target_score", "max_bytes"):
        assert not options.HasField(name), name


def test_given_options_are_sent() -> None:
    options = compress_options(None, False, effort=1, target_score=80, max_bytes=None)
    assert (options.effort, options.target_score) == (1, 80.0)
    assert not options.HasField("quality") and not options.HasField("max_bytes")
    budget = compress_options(70, False, effort=10, max_bytes=200_000)
    assert (budget.quality, budget.effort, budget.max_bytes) == (70, 10, 200_000)
    both = compress_options(None, False, target_score=70, max_bytes=5000)
    assert (both.target_score, both.max_bytes) == (70.0, 5000)


def test_quality_defaults_to_unset_so_a_target_score_alone_is_valid() -> None:
    # quality's default is None (the server applies 80), not 80: target_score alone passes
    # validation and reaches the (absent) server.
    with pixpress.Client("localhost:1", timeout=10) as client:
        with pytest.raises(pixpress.PixpressError) as caught:
            client.compress(b"x", target_score=80)
        assert not isinstance(caught.value, pixpress.InvalidOptionsError)
        assert caught.value.code.name in ("UNAVAILABLE", "DEADLINE_EXCEEDED")
    request = submit_compress_request("asset-1", None, False, target_score=85.5)
    assert not request.options.HasField("quality")
    assert request.options.target_score == 85.5 and request.options.store_output


def test_client_checks_before_any_call() -> None:
    # localhost:1 serves nothing: a call would fail UNAVAILABLE; validation comes first.
    with pixpress.Client("localhost:1") as client:
        with pytest.raises(ValueError, match="for effort but received 11"):
            client.compress(b"x", effort=11)
        with pytest.raises(ValueError, match="Send quality or target_score, not both"):
            client.compress(b"x", quality=80, target_score=80)
        with pytest.raises(ValueError, match="for max_bytes but received 0"):
            client.submit_compress("asset-1", max_bytes=0)


async def test_async_client_checks_before_any_call() -> None:
    async with pixpress.AsyncClient("localhost:1") as client:
        with pytest.raises(ValueError, match="for target_score but received 99"):
            await client.compress(b"x", target_score=99)
        with pytest.raises(ValueError, match="for effort but received 0"):
            await client.submit_compress("asset-1", effort=0)


def test_result_reads_effort_score_and_budget() -> None:
    searched = compress_pb2.CompressResult(quality=62, effort=3, score=80.25, output_size=2)
    result = result_from_pb(searched, b"ab")
    assert (result.quality, result.effort, result.score, result.budget_met) == (62, 3, 80.25, None)
    budget = result_from_pb(compress_pb2.CompressResult(effort=5, budget_met=False), b"")
    assert (budget.score, budget.budget_met) == (None, False)
    plain = result_from_pb(compress_pb2.CompressResult(quality=80), b"")
    assert (plain.effort, plain.score, plain.budget_met) == (0, None, None)


def test_action_reads_what_was_asked_and_done() -> None:
    message = actions_pb2.Action(
        id="a",
        status=actions_pb2.ACTION_STATUS_SUCCEEDED,
        request=actions_pb2.ActionRequest(quality=0, effort=7, target_score=75.0),
        response=actions_pb2.ActionResponse(quality=58, effort=7, score=75.5),
    )
    action = action_from_pb(message)
    assert (action.request.effort, action.request.target_score, action.request.max_bytes) == (
        7,
        75.0,
        None,
    )
    assert action.response is not None
    assert (action.response.quality, action.response.score, action.response.budget_met) == (
        58,
        75.5,
        None,
    )
    assert action["request_data"]["target_score"] == 75.0
    assert action["response_data"]["score"] == 75.5
    budget = action_from_pb(
        actions_pb2.Action(
            request=actions_pb2.ActionRequest(quality=80, max_bytes=1000),
            response=actions_pb2.ActionResponse(budget_met=True),
        )
    )
    assert budget.request.max_bytes == 1000 and budget.request.target_score is None
    assert budget.response is not None and budget.response.budget_met is True


def test_route_body_carries_the_engine_options() -> None:
    arguments = submit_arguments(ROUTE, {"effort": 2, "target_score": 70}, "asset-1")
    request = submit_compress_request(*arguments)
    assert (request.options.effort, request.options.target_score) == (2, 70.0)
    assert not request.options.HasField("quality")
    request = submit_compress_request(*submit_arguments(ROUTE, {"max_bytes": 5000}, "asset-1"))
    assert request.options.max_bytes == 5000


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"effort": 11}, "Expected integer between 1 and 10 for effort but received 11"),
        ({"target_score": 95.5}, "Expected number between 30 and 95 for target_score"),
        ({"target_score": True}, "for target_score but received True"),
        ({"max_bytes": 0}, "Expected integer at least 1 for max_bytes but received 0"),
    ],
)
def test_route_body_checks_the_schemas_bounds(body: dict[str, Any], message: str) -> None:
    with pytest.raises(pixpress.InvalidOptionsError, match=message):
        submit_arguments(ROUTE, body, "asset-1")


def test_route_body_refuses_quality_with_target_score() -> None:
    arguments = submit_arguments(ROUTE, {"quality": 80, "target_score": 80}, "asset-1")
    with pytest.raises(pixpress.InvalidOptionsError, match="not both"):
        submit_compress_request(*arguments)
