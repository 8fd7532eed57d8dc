"""The HTTP edge on a real server: compress raw and multipart, problems, keys, docs."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-basics")
    process = start_server(data_dir, ["--workers", "1"])
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    copy = tmp_path_factory.mktemp("photo") / "kodim23.png"
    shutil.copyfile(CORPUS / "photos" / "kodak" / "kodim23.png", copy)
    return copy.read_bytes()


def client(server: ServerProcess, key: str | None = "") -> httpx.Client:
    headers = {} if key is None else {"Authorization": f"Bearer {key or server.api_key}"}
    return httpx.Client(base_url=f"http://{server.http_address}", headers=headers, timeout=120)


def test_the_server_prints_its_http_line(server: ServerProcess) -> None:
    assert server.http_address.startswith("127.0.0.1:")


def test_compress_a_raw_body_answers_the_image_and_its_result_headers(
    server: ServerProcess, photo: bytes
) -> None:
    with client(server) as http:
        response = http.post("/v1/compress", params={"quality": 70}, content=photo)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG")
    assert int(response.headers["x-pixpress-output-size"]) == len(response.content)
    assert int(response.headers["x-pixpress-input-size"]) == len(photo)
    assert len(response.content) < len(photo)
    assert response.headers["x-pixpress-quality"] == "70"
    assert "encode;dur=" in response.headers["server-timing"]
    with client(server) as http:
        action = http.get(f"/v1/actions/{response.headers['x-pixpress-action-id']}").json()
    assert action["status"] == "succeeded"
    assert action["response_data"]["output_size"] == len(response.content)


def test_compress_a_multipart_file_field(server: ServerProcess, photo: bytes) -> None:
    with client(server) as http:
        response = http.post("/v1/compress", files={"file": ("kodim23.png", photo, "image/png")})
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\x89PNG")


def test_bad_values_are_problems_with_the_grpc_code(server: ServerProcess, photo: bytes) -> None:
    with client(server) as http:
        too_high = http.post("/v1/compress", params={"quality": 700}, content=photo)
        not_a_number = http.post("/v1/compress", params={"quality": "high"}, content=photo)
        not_an_image = http.post("/v1/compress", content=b"hello, this is text" * 100)
    for response in (too_high, not_a_number, not_an_image):
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "INVALID_ARGUMENT"
    assert "between 1 and 100 for quality but received 700" in too_high.json()["detail"]
    assert "quality" in not_a_number.json()["detail"]
    assert not_an_image.headers.get("x-pixpress-action-id")


def test_keys_are_required_and_checked(server: ServerProcess, photo: bytes) -> None:
    with client(server, key=None) as http:
        missing = http.get("/v1/actions")
    with client(server, key="pxp_not_a_real_key") as http:
        wrong = http.get("/v1/actions")
    for response in (missing, wrong):
        assert response.status_code == 401
        assert response.json()["code"] == "UNAUTHENTICATED"


def test_the_route_by_identifier_and_id(server: ServerProcess) -> None:
    with client(server) as http:
        by_name = http.get("/v1/routes/pixpress/compress-an-image").json()
        by_id = http.get(f"/v1/routes/{by_name['id']}").json()
        unknown = http.get("/v1/routes/someone/else")
    assert by_name == by_id
    assert by_name["metadata"]["parameters"]["quality"]["maximum"] == 100
    assert unknown.status_code == 404 and unknown.json()["code"] == "NOT_FOUND"


def test_openapi_and_the_docs_are_served_without_a_cdn(server: ServerProcess) -> None:
    with client(server, key=None) as http:
        spec = http.get("/openapi.json").json()
        docs = http.get("/docs").text
        script = http.get("/docs-assets/swagger-ui-bundle.js")
    assert "/v1/compress" in spec["paths"]
    assert "/v1/actions/{action_id}/events" in spec["paths"]
    assert "cdn" not in docs.lower() and "https://" not in docs
    assert script.status_code == 200 and len(script.content) > 100_000
