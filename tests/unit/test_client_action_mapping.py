"""Action as a read-only mapping of JSON values (the route page's `action['status']`), beside
its attributes; ActionPage and Action print as JSON."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime

import pixpress
import pytest
from pixpress import Action, ActionError, ActionPage, ActionRequest, ActionResponse, ActionStatus

CREATED = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
REQUEST = ActionRequest(
    quality=85,
    keep_metadata=False,
    input_asset_id="asset-1",
    input_size=1000,
    input_format="jpeg",
    store_output=True,
    effort=3,
    max_bytes=700,
)
RESPONSE = ActionResponse(
    format="jpeg",
    output_size=600,
    width=3,
    height=2,
    frames=1,
    kept_original=False,
    kept_original_reason="",
    output_asset_id="asset-2",
    stages=(pixpress.Stage("decode", 0, 1.5), pixpress.Stage("encode", 600, 2.0)),
    quality=85,
    effort=3,
    budget_met=True,
)
KEYS = [
    "id",
    "route_id",
    "owner",
    "status",
    "request_data",
    "response_data",
    "error",
    "created_at",
    "started_at",
    "finished_at",
]


def action(**changes: object) -> Action:
    base = Action(
        id="action-1",
        route_id="route-1",
        owner="alice",
        status=ActionStatus.SUCCEEDED,
        request=REQUEST,
        response=RESPONSE,
        error=None,
        created=CREATED,
        started=CREATED,
        finished=CREATED,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_keys_in_order_and_plain_json_values():
    succeeded = action()
    assert isinstance(succeeded, Mapping)
    assert list(succeeded) == KEYS == list(succeeded.keys())
    assert len(succeeded) == len(KEYS)
    assert dict(succeeded) == {
        "id": "action-1",
        "route_id": "route-1",
        "owner": "alice",
        "status": "succeeded",
        "request_data": {
            "quality": 85,
            "keep_metadata": False,
            "input_asset_id": "asset-1",
            "input_size": 1000,
            "input_format": "jpeg",
            "store_output": True,
            "effort": 3,
            "target_score": None,
            "max_bytes": 700,
        },
        "response_data": {
            "format": "jpeg",
            "output_size": 600,
            "width": 3,
            "height": 2,
            "frames": 1,
            "kept_original": False,
            "kept_original_reason": "",
            "output_asset_id": "asset-2",
            "stages": [
                {"name": "decode", "output_bytes": 0, "milliseconds": 1.5},
                {"name": "encode", "output_bytes": 600, "milliseconds": 2.0},
            ],
            "quality": 85,
            "effort": 3,
            "score": None,
            "budget_met": True,
        },
        "error": None,
        "created_at": "2025-01-02T03:04:05.123456Z",
        "started_at": "2025-01-02T03:04:05.123456Z",
        "finished_at": "2025-01-02T03:04:05.123456Z",
    }
    assert type(succeeded["status"]) is str  # a plain value, not the enum
    assert json.loads(json.dumps(dict(succeeded))) == dict(succeeded)


def test_the_route_page_reads_work():
    failed = action(
        status=ActionStatus.FAILED, response=None, error=ActionError("INVALID_ARGUMENT", "bad")
    )
    assert (failed["id"], failed["status"]) == ("action-1", "failed")
    assert failed.get("response_data") is None and failed["response_data"] is None
    assert failed["error"] == {"code": "INVALID_ARGUMENT", "message": "bad"}
    assert f"Status: {failed['status']}" == "Status: failed"
    assert "status" in failed and "response" not in failed
    assert failed.get("nope", "default") == "default"
    with pytest.raises(KeyError):
        failed["response"]


def test_queued_action_has_no_times_but_created():
    queued = action(status=ActionStatus.QUEUED, response=None, started=None, finished=None)
    assert (queued["started_at"], queued["finished_at"], queued["response_data"]) == (
        None,
        None,
        None,
    )


def test_attributes_still_work_and_it_stays_frozen_and_comparable():
    succeeded = action()
    assert succeeded.status is ActionStatus.SUCCEEDED and succeeded.response is RESPONSE
    assert succeeded.created == CREATED
    with pytest.raises(dataclasses.FrozenInstanceError):
        succeeded.status = ActionStatus.FAILED  # type: ignore[misc]
    assert succeeded == action() and hash(succeeded) == hash(action())
    assert succeeded != action(owner="bob")
    # the views are fresh copies: changing one changes nothing
    succeeded["response_data"]["output_size"] = 0
    assert succeeded["response_data"]["output_size"] == 600


def test_str_is_indented_json_and_repr_shows_the_fields():
    succeeded = action()
    assert json.loads(str(succeeded)) == dict(succeeded)
    assert str(succeeded).startswith('{\n  "id": "action-1",\n  "route_id"')
    assert repr(succeeded).startswith("Action(id='action-1', route_id='route-1'")


def test_page_prints_its_actions_as_json():
    page = ActionPage(actions=(action(), action(id="action-2")), next_page_token="t")
    assert json.loads(str(page)) == {
        "actions": [dict(page[0]), dict(page[1])],
        "next_page_token": "t",
    }
    assert [a["id"] for a in page] == ["action-1", "action-2"]
