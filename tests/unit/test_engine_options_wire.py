"""The server's side of effort, target_score and max_bytes: validation from the wire, the
result and the action back to it, and action rows written before the options existed."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pixpress.v1 import compress_pb2
from pixpress_server.compression import Done, _response
from pixpress_server.errors import InvalidInput
from pixpress_server.processing.model import (
    CompressOptions,
    CompressOutcome,
    ImageFormat,
    ImageHeader,
)
from pixpress_server.servicers.convert import action_to_wire, options_from_wire, result_to_wire
from pixpress_server.store.records import (
    ActionRecord,
    ActionRequestData,
    ActionResponseData,
    ActionStatus,
)

HEADER = ImageHeader(ImageFormat.JPEG, 30, 20, frames=1, bands=3)


def _options(**fields: Any) -> CompressOptions:
    return options_from_wire(compress_pb2.CompressOptions(**fields))


def test_unset_options_take_the_defaults() -> None:
    assert _options() == CompressOptions(
        quality=80, keep_metadata=False, effort=5, target_score=None, max_bytes=None
    )


def test_set_options_are_kept() -> None:
    assert _options(effort=1, target_score=30.0) == CompressOptions(
        quality=80, effort=1, target_score=30.0
    )
    # quality is the ceiling of a budget search, so the two go together.
    assert _options(quality=60, effort=10, max_bytes=1) == CompressOptions(
        quality=60, effort=10, max_bytes=1
    )
    assert _options(target_score=95.0).target_score == 95.0
    # A score with a budget: the budget is the harder limit, and both are reported.
    assert _options(target_score=70.0, max_bytes=5000) == CompressOptions(
        target_score=70.0, max_bytes=5000
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"effort": 0}, "Expected integer between 1 and 10 for effort but received 0"),
        ({"effort": -3}, "Expected integer between 1 and 10 for effort but received -3"),
        (
            {"target_score": 99.0},
            "Expected number between 30 and 95 for target_score but received 99",
        ),
        ({"target_score": math.inf}, "for target_score but received inf"),
        ({"target_score": -math.inf}, "for target_score but received -inf"),
        ({"target_score": math.nan}, "for target_score but received nan"),
        ({"max_bytes": 0}, "Expected integer at least 1 for max_bytes but received 0"),
        ({"quality": 80, "target_score": 80.0}, "Send quality or target_score, not both"),
        # A range error names the field before any conflict does.
        ({"quality": 150, "target_score": 80.0}, "for quality but received 150"),
    ],
)
def test_bad_options_are_invalid_input(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        _options(**fields)
    assert message in raised.value.public_message


def _done(**outcome: Any) -> Done:
    fields: dict[str, Any] = {
        "header": HEADER,
        "input_size": 1000,
        "output_size": 600,
        "quality": 64,
        "kept_original": False,
        "kept_original_reason": "",
        "stages": (),
    }
    return Done(CompressOutcome(**(fields | outcome)), Path("/nonexistent"), "")


def test_result_carries_effort_score_and_budget_only_when_set() -> None:
    searched = result_to_wire(_done(effort=7, score=81.5), "action-1")
    assert (searched.effort, searched.quality, searched.score) == (7, 64, 81.5)
    assert not searched.HasField("budget_met")
    budget = result_to_wire(_done(budget_met=False), "action-1")
    assert (budget.effort, budget.budget_met) == (5, False)
    assert budget.HasField("budget_met") and not budget.HasField("score")


def test_action_round_trips_through_its_json_and_the_wire() -> None:
    request = ActionRequestData(quality=0, keep_metadata=False, effort=3, target_score=72.5)
    response = _response(_done(effort=3, score=73.0))
    stored_request = ActionRequestData(**json.loads(json.dumps(request.to_dict())))
    stored_response = ActionResponseData.from_dict(json.loads(json.dumps(response.to_dict())))
    assert (stored_request, stored_response) == (request, response)
    assert (stored_response.quality, stored_response.score) == (64, 73.0)
    record = ActionRecord(
        id="a",
        route_id="r",
        owner="o",
        status=ActionStatus.SUCCEEDED,
        request=stored_request,
        created=datetime.now(UTC),
        response=stored_response,
    )
    wire = action_to_wire(record)
    assert (wire.request.effort, wire.request.target_score, wire.request.quality) == (3, 72.5, 0)
    assert not wire.request.HasField("max_bytes")
    assert (wire.response.quality, wire.response.effort, wire.response.score) == (64, 3, 73.0)
    assert not wire.response.HasField("budget_met")


def test_rows_written_before_the_options_still_load() -> None:
    old_request = {
        "quality": 80,
        "keep_metadata": False,
        "input_asset_id": "",
        "input_size": 10,
        "input_format": "jpeg",
        "store_output": False,
    }
    old_response = {
        "format": "jpeg",
        "output_size": 5,
        "width": 1,
        "height": 1,
        "frames": 1,
        "kept_original": False,
        "kept_original_reason": "",
        "output_asset_id": "",
        "stages": [{"name": "encode", "output_bytes": 5, "milliseconds": 1.0}],
    }
    request = ActionRequestData(**old_request)
    response = ActionResponseData.from_dict(old_response)
    assert (request.effort, request.target_score, request.max_bytes) == (0, None, None)
    assert (response.quality, response.effort, response.score, response.budget_met) == (
        0,
        0,
        None,
        None,
    )
