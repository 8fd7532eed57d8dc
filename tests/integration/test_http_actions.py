"""Actions over HTTP on a real server: pages with filters, get, Server-Sent Events until a
terminal status, cancel."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
ROUTE = "pixpress/compress-an-image"
USE = f"/v1/routes/{ROUTE}/use"
ASYNC = {"Prefer": "respond-async"}
# zopfli at q 100, effort 10 on a 0.39 MP PNG: ~19 s on one worker, long enough for the actions
# behind it to stay queued while the test looks at them (it is cancelled, never awaited).
SLOW = {"quality": 100, "effort": 10}
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-actions")
    process = start_server(data_dir, ["--workers", "1"])
    yield process
    process.stop()


@pytest.fixture(scope="module")
def alice(server: ServerProcess) -> str:
    return create_key(server.data_dir, "alice")


@pytest.fixture(scope="module")
def bob(server: ServerProcess) -> str:
    return create_key(server.data_dir, "bob")


@pytest.fixture(scope="module")
def photo() -> bytes:
    return (FIXTURES / "png" / "kodim23.png").read_bytes()


@pytest.fixture(scope="module")
def big_photo() -> bytes:
    return (CORPUS / "photos" / "kodak" / "kodim13.png").read_bytes()


def use_body(asset_id: str | None, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if asset_id is not None:
        payload["input_asset"] = {"assetId": asset_id, "assetType": "file"}
    return payload


def upload(http: httpx.Client, image: bytes) -> str:
    response = http.post("/v1/assets", content=image)
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


def wait_for(http: httpx.Client, action_id: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while (action := http.get(f"/v1/actions/{action_id}").json())["status"] not in statuses:
        assert time.monotonic() < deadline, action
        time.sleep(0.1)
    return action  # type: ignore[no-any-return]


class Events:
    """The events of one open `text/event-stream` response, read as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.iter_lines()

    def next(self) -> dict[str, Any] | None:
        """The next event as {"event", "id", "data"} (data parsed), or None at the end."""
        fields: dict[str, Any] = {}
        for line in self._lines:
            if not line:
                if fields:
                    fields["data"] = json.loads(fields["data"])
                    return fields
                continue
            if line.startswith(":"):
                continue  # a keep-alive comment
            name, _, value = line.partition(": ")
            fields[name] = value
        return None


def test_list_pages_round_trip_with_filters(
    server: ServerProcess, alice: str, bob: str, photo: bytes
) -> None:
    with client(server, alice) as http:
        asset_id = upload(http, photo)
        made = [http.post(USE, json=use_body(None)).json()["id"] for _ in range(4)]
        made.append(http.post(USE, json=use_body(asset_id, quality=70)).json()["id"])
        everything = http.get("/v1/actions", params={"page_size": 100}).json()
        seen: list[str] = []
        token = ""
        pages = 0
        while True:
            page = http.get("/v1/actions", params={"page_size": 2, "page_token": token}).json()
            assert len(page["actions"]) <= 2
            seen += [action["id"] for action in page["actions"]]
            pages += 1
            token = page["next_page_token"]
            if not token:
                break
        failed = http.get("/v1/actions", params={"status": "failed"}).json()["actions"]
        succeeded = http.get("/v1/actions", params={"status": "succeeded"}).json()["actions"]
        route_id = http.get(f"/v1/routes/{ROUTE}").json()["id"]
        by_name = http.get("/v1/actions", params={"route": ROUTE, "page_size": 100}).json()
        by_id = http.get("/v1/actions", params={"route": route_id, "page_size": 100}).json()
        other_route = "00000000-0000-4000-8000-000000000000"
        none = http.get("/v1/actions", params={"route": other_route}).json()
        bad_token = http.get("/v1/actions", params={"page_token": "not-a-token"})
        too_big = http.get("/v1/actions", params={"page_size": 101})
    with client(server, bob) as http:
        bobs = http.get("/v1/actions").json()
    ids = [action["id"] for action in everything["actions"]]
    assert set(made) <= set(ids) and everything["next_page_token"] == ""
    assert seen == ids and pages == -(-len(ids) // 2)  # newest first, every one once
    assert made[-1] in [action["id"] for action in succeeded]
    assert set(made[:4]) <= {action["id"] for action in failed}
    assert all(action["status"] == "failed" for action in failed)
    assert all(action["status"] == "succeeded" for action in succeeded)
    assert [a["id"] for a in by_name["actions"]] == [a["id"] for a in by_id["actions"]] == ids
    assert none == {"actions": [], "next_page_token": ""}
    for response in (bad_token, too_big):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "INVALID_ARGUMENT"
    assert bobs == {"actions": [], "next_page_token": ""}


def page_token(http: httpx.Client) -> str:
    token: str = http.get("/v1/actions", params={"page_size": 1}).json()["next_page_token"]
    assert token
    return token


def test_a_token_is_refused_under_other_filters(server: ServerProcess, alice: str) -> None:
    with client(server, alice) as http:
        http.post(USE, json=use_body(None))
        http.post(USE, json=use_body(None))
        token = page_token(http)
        same = http.get("/v1/actions", params={"page_size": 1, "page_token": token})
        other = http.get(
            "/v1/actions", params={"page_size": 1, "page_token": token, "status": "succeeded"}
        )
    assert same.status_code == 200, same.text
    assert other.status_code == 400 and other.json()["code"] == "INVALID_ARGUMENT"


def test_get_one_action_and_not_another_owners(server: ServerProcess, alice: str, bob: str) -> None:
    with client(server, alice) as http:
        made = http.post(USE, json=use_body(None)).json()
        mine = http.get(f"/v1/actions/{made['id']}")
        malformed = http.get("/v1/actions/not-a-uuid")
    with client(server, bob) as http:
        theirs = http.get(f"/v1/actions/{made['id']}")
        theirs_events = http.get(f"/v1/actions/{made['id']}/events")
        theirs_cancel = http.post(f"/v1/actions/{made['id']}/cancel")
    assert mine.status_code == 200 and mine.json() == made
    assert malformed.status_code == 400 and malformed.json()["code"] == "INVALID_ARGUMENT"
    for response in (theirs, theirs_events, theirs_cancel):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "NOT_FOUND"


def test_events_follow_a_background_action_and_cancel_stops_queued_and_running_ones(
    server: ServerProcess, alice: str, photo: bytes, big_photo: bytes
) -> None:
    with client(server, alice) as http, client(server, alice) as control:
        slow_asset, asset = upload(http, big_photo), upload(http, photo)
        slow = http.post(USE, json=use_body(slow_asset, **SLOW), headers=ASYNC)
        assert slow.status_code == 202, slow.text
        wait_for(http, slow.json()["id"], {"running"})  # the one worker is busy from now on
        watched = http.post(USE, json=use_body(asset, quality=75), headers=ASYNC).json()
        dropped = http.post(USE, json=use_body(asset, quality=75), headers=ASYNC).json()
        with http.stream("GET", f"/v1/actions/{watched['id']}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            events = Events(stream)
            first = events.next()
            cancel_queued = control.post(f"/v1/actions/{dropped['id']}/cancel")
            cancel_running = control.post(f"/v1/actions/{slow.json()['id']}/cancel")
            rest = []
            while (event := events.next()) is not None:
                rest.append(event)
        cancel_finished = http.post(f"/v1/actions/{watched['id']}/cancel")
        with http.stream("GET", f"/v1/actions/{watched['id']}/events") as stream:
            events = Events(stream)
            replay = list(iter(events.next, None))
    assert first is not None and first["event"] == "queued", first
    assert first["data"]["id"] == watched["id"] and first["data"]["status"] == "queued"
    assert [event["event"] for event in rest] == ["running", "succeeded"], rest
    assert [event["data"]["status"] for event in rest] == ["running", "succeeded"]
    assert rest[-1]["data"]["response_data"]["quality"] == 75
    for cancel in (cancel_queued, cancel_running):
        assert cancel.status_code == 200, cancel.text
        assert cancel.json()["status"] == "cancelled"
        assert cancel.json()["error"]["code"] == "CANCELLED"
    assert cancel_finished.status_code == 409, cancel_finished.text
    assert cancel_finished.headers["content-type"] == "application/problem+json"
    assert cancel_finished.json()["code"] == "FAILED_PRECONDITION"
    assert [event["event"] for event in replay] == ["succeeded"]
    assert replay[0]["data"] == rest[-1]["data"]
