"""Routes over HTTP on a real server, in the route page's shape: metadata by id and by
OWNER/NAME, `use` (waiting, or 202 with `Prefer: respond-async`), and what is refused."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
ROUTE = "pixpress/compress-an-image"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-routes")
    process = start_server(data_dir, ["--workers", "1"])
    yield process
    process.stop()


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-routes-private")
    process = start_server(
        data_dir, ["--workers", "1", "--route-owner", "acme", "--route-visibility", "private"]
    )
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


def upload(http: httpx.Client, image: bytes) -> str:
    response = http.post("/v1/assets", content=image)
    assert response.status_code == 201, response.text
    asset_id: str = response.json()["id"]
    return asset_id


def use_body(asset_id: str | None, **body: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {"body": body}
    if asset_id is not None:
        payload["input_asset"] = {"assetId": asset_id, "assetType": "file"}
    return payload


def test_the_route_by_id_and_by_identifier_in_the_route_pages_shape(
    server: ServerProcess,
    alice: str,
) -> None:
    with client(server, alice) as http:
        by_name = http.get(f"/v1/routes/{ROUTE}")
        by_id = http.get(f"/v1/routes/{by_name.json()['id']}")
    assert by_name.status_code == 200 and by_id.status_code == 200
    route = by_name.json()
    assert route == by_id.json()
    assert route["identifier"] == ROUTE and route["name"] == "compress-an-image"
    assert route["visibility"] == "public"
    assert route["description"] == "Compress an image while maintaining its current format"
    quality = route["metadata"]["parameters"]["quality"]
    assert (quality["type"], quality["minimum"], quality["maximum"]) == ("integer", 1, 100)


def test_use_waits_and_answers_the_finished_action(
    server: ServerProcess, alice: str, photo: bytes
) -> None:
    with client(server, alice) as http:
        asset_id = upload(http, photo)
        response = http.post(f"/v1/routes/{ROUTE}/use", json=use_body(asset_id, quality=85))
        assert response.status_code == 200, response.text
        action = response.json()
        output = http.get(f"/v1/assets/{action['response_data']['output_asset_id']}/content")
    assert response.headers["location"] == f"/v1/actions/{action['id']}"
    assert action["status"] == "succeeded" and action["error"] is None
    assert action["request_data"]["quality"] == 85
    assert action["request_data"]["input_asset_id"] == asset_id
    data = action["response_data"]
    assert data["format"] == "png" and data["quality"] == 85
    assert data["output_size"] == len(output.content) < len(photo)
    assert output.content.startswith(b"\x89PNG")


def test_use_by_route_id_with_respond_async_answers_202_and_the_queued_action(
    server: ServerProcess, alice: str, photo: bytes
) -> None:
    with client(server, alice) as http:
        route_id = http.get(f"/v1/routes/{ROUTE}").json()["id"]
        asset_id = upload(http, photo)
        response = http.post(
            f"/v1/routes/{route_id}/use",
            json=use_body(asset_id, quality=60),
            headers={"Prefer": "respond-async"},
        )
        assert response.status_code == 202, response.text
        action = response.json()
        location = response.headers["location"]
        deadline = time.monotonic() + 120
        while (latest := http.get(location).json())["status"] in {"queued", "running"}:
            assert time.monotonic() < deadline, latest
            time.sleep(0.2)
    assert response.headers["preference-applied"] == "respond-async"
    assert location == f"/v1/actions/{action['id']}"
    assert action["status"] in {"queued", "running"} and action["response_data"] is None
    assert action["route_id"] == route_id
    assert latest["status"] == "succeeded", latest
    assert latest["response_data"]["quality"] == 60


def test_unknown_keys_in_the_use_body_are_refused(
    server: ServerProcess, alice: str, photo: bytes
) -> None:
    with client(server, alice) as http:
        asset_id = upload(http, photo)
        unknown_parameter = http.post(
            f"/v1/routes/{ROUTE}/use", json=use_body(asset_id, quality=85, qualty=3)
        )
        unknown_member = http.post(
            f"/v1/routes/{ROUTE}/use", json={**use_body(asset_id), "input": asset_id}
        )
        bad_quality = http.post(f"/v1/routes/{ROUTE}/use", json=use_body(asset_id, quality=0))
    for response in (unknown_parameter, unknown_member, bad_quality):
        assert response.status_code == 400, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "qualty" in unknown_parameter.json()["detail"]
    assert "between 1 and 100 for quality but received 0" in bad_quality.json()["detail"]


def test_use_without_an_input_asset_is_the_failed_action(server: ServerProcess, alice: str) -> None:
    with client(server, alice) as http:
        response = http.post(f"/v1/routes/{ROUTE}/use", json=use_body(None, quality=85))
        recorded = http.get(response.headers["location"]).json()
    assert response.status_code == 200, response.text
    action = response.json()
    assert action["status"] == "failed" and action["response_data"] is None
    assert action["error"]["code"] == "INVALID_ARGUMENT"
    assert "input_asset" in action["error"]["message"]
    assert recorded == action


def test_another_owners_asset_is_not_found(
    server: ServerProcess, alice: str, bob: str, photo: bytes
) -> None:
    with client(server, alice) as http:
        asset_id = upload(http, photo)
    with client(server, bob) as http:
        response = http.post(f"/v1/routes/{ROUTE}/use", json=use_body(asset_id, quality=85))
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "NOT_FOUND"
    assert asset_id in response.json()["detail"]


def test_unknown_and_malformed_routes(server: ServerProcess, alice: str) -> None:
    with client(server, alice) as http:
        unknown = http.get("/v1/routes/someone/else")
        unknown_id = http.get("/v1/routes/00000000-0000-4000-8000-000000000000")
        malformed = http.get("/v1/routes/not-a-uuid")
        use_unknown = http.post("/v1/routes/someone/else/use", json=use_body(None))
    for response in (unknown, unknown_id, use_unknown):
        assert response.status_code == 404 and response.json()["code"] == "NOT_FOUND"
    assert malformed.status_code == 400 and malformed.json()["code"] == "INVALID_ARGUMENT"


def test_a_wrong_method_on_use_allows_post(server: ServerProcess, alice: str) -> None:
    with client(server, alice) as http:
        route_id = http.get(f"/v1/routes/{ROUTE}").json()["id"]
        response = http.request("OPTIONS", f"/v1/routes/{route_id}/use")
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "UNIMPLEMENTED"


def test_a_private_route_is_not_found_for_other_owners(
    private_server: ServerProcess, photo: bytes
) -> None:
    identifier = "acme/compress-an-image"
    with client(private_server, create_key(private_server.data_dir, "acme")) as http:
        mine = http.get(f"/v1/routes/{identifier}")
        assert mine.status_code == 200, mine.text
        route_id = mine.json()["id"]
        asset_id = upload(http, photo)
        used = http.post(f"/v1/routes/{route_id}/use", json=use_body(asset_id, quality=85))
    with client(private_server, create_key(private_server.data_dir, "bob")) as http:
        by_name = http.get(f"/v1/routes/{identifier}")
        by_id = http.get(f"/v1/routes/{route_id}")
        use = http.post(f"/v1/routes/{identifier}/use", json=use_body(None, quality=85))
        listed = http.get("/v1/actions").json()["actions"]
    assert mine.json()["visibility"] == "private"
    assert used.status_code == 200 and used.json()["status"] == "succeeded", used.text
    for response in (by_name, by_id, use):
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "NOT_FOUND"
    assert listed == []  # bob's use was refused before it became an action
