"""The HTTP edge on a real server: compress raw and multipart, problems, keys, docs, HTTPS
and mutual TLS on the HTTP port, and the README's curl examples run as written."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.pki import Pki, make_pki
from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as client

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-basics")
    process = start_server(data_dir, ["--workers", "1"])
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return (CORPUS / "photos" / "kodak" / "kodim23.png").read_bytes()


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


# TLS: the HTTP port uses the gRPC port's --tls-cert/--tls-key (and --tls-client-ca)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls_server(data_dir: Path, pki: Pki, *extra: str) -> ServerProcess:
    tls = ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]
    process = start_server(data_dir, ["--workers", "1", *tls, *extra])
    process.api_key = create_key(data_dir, "alice")
    return process


def test_the_http_port_serves_https_with_the_grpc_certificate(
    pki: Pki, tmp_path: Path, photo: bytes
) -> None:
    process = _tls_server(tmp_path / "data", pki)
    headers = {"Authorization": f"Bearer {process.api_key}"}
    try:
        with httpx.Client(verify=ssl.create_default_context(cafile=pki.ca), timeout=120) as http:
            response = http.post(
                f"https://{process.http_address}/v1/compress", headers=headers, content=photo
            )
        with httpx.Client(timeout=30) as plain, pytest.raises(httpx.TransportError):
            plain.get(f"http://{process.http_address}/v1/actions", headers=headers)
        with httpx.Client(timeout=30) as stranger, pytest.raises(httpx.ConnectError):
            stranger.get(f"https://{process.http_address}/v1/actions", headers=headers)
        curled = _curl(
            f'curl -sS --cacert {pki.ca} -H "Authorization: Bearer $PIXPRESS_API_KEY" '
            f"https://{process.http_address}/v1/routes/pixpress/compress-an-image",
            tmp_path,
            process.api_key,
        )
    finally:
        assert process.stop() == 0
    assert response.status_code == 200, response.text
    assert response.content.startswith(b"\x89PNG")
    assert json.loads(curled)["name"] == "compress-an-image"


def test_mutual_tls_on_the_http_port_needs_a_client_certificate(pki: Pki, tmp_path: Path) -> None:
    process = _tls_server(tmp_path / "data", pki, "--tls-client-ca", str(pki.client_ca))
    url = f"https://{process.http_address}/v1/routes/pixpress/compress-an-image"
    headers = {"Authorization": f"Bearer {process.api_key}"}
    try:
        anonymous = ssl.create_default_context(cafile=pki.ca)
        with (
            httpx.Client(verify=anonymous, timeout=30) as http,
            pytest.raises(httpx.TransportError),
        ):
            http.get(url, headers=headers)
        known = ssl.create_default_context(cafile=pki.ca)
        known.load_cert_chain(pki.client_cert, pki.client_key)
        with httpx.Client(verify=known, timeout=30) as http:
            response = http.get(url, headers=headers)
    finally:
        assert process.stop() == 0
    assert response.status_code == 200 and response.json()["name"] == "compress-an-image"


# The README's curl examples, run as written (only the host, port and key replaced)

README_HOST = "localhost:8080"
CURL_EXAMPLES = {
    "compress": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" --data-binary @photo.png '
    '"http://localhost:8080/v1/compress?quality=75" -o photo.min.png -D headers.txt',
    "multipart": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" -F file=@photo.png '
    '"http://localhost:8080/v1/compress?target_score=80&effort=7" -o photo.s80.png',
    "store": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" --data-binary @photo.png '
    '"http://localhost:8080/v1/compress?max_bytes=200000&store_output=true" '
    "-o /dev/null -D - | grep -i '^x-pixpress-output-asset-id'",
    "upload": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" --data-binary @photo.png '
    "http://localhost:8080/v1/assets",
    "download": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" '
    "http://localhost:8080/v1/assets/$ASSET_ID/content -o copy.png",
    "range": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" -r 0-99 '
    "http://localhost:8080/v1/assets/$ASSET_ID/content -o first100.bin",
    "delete": 'curl -sS -o /dev/null -w "%{http_code}\\n" -X DELETE '
    '-H "Authorization: Bearer $PIXPRESS_API_KEY" http://localhost:8080/v1/assets/$ASSET_ID',
    "problem": 'curl -sS -H "Authorization: Bearer $PIXPRESS_API_KEY" --data-binary @photo.png '
    '"http://localhost:8080/v1/compress?quality=101"',
}


def _curl(command: str, cwd: Path, key: str | None, **env: str) -> str:
    completed = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"],
        cwd=cwd,
        env={**os.environ, "PIXPRESS_API_KEY": key or "", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, (command, completed.stderr)
    return completed.stdout


def test_the_readme_curl_examples_work_as_written(
    server: ServerProcess, photo: bytes, tmp_path: Path
) -> None:
    (tmp_path / "photo.png").write_bytes(photo)

    def run(name: str, **env: str) -> str:
        command = CURL_EXAMPLES[name].replace(README_HOST, server.http_address)
        return _curl(command, tmp_path, server.api_key, **env)

    run("compress")
    compressed = (tmp_path / "photo.min.png").read_bytes()
    headers = (tmp_path / "headers.txt").read_text().lower()
    assert compressed.startswith(b"\x89PNG") and len(compressed) < len(photo)
    assert f"x-pixpress-output-size: {len(compressed)}" in headers
    assert "content-type: image/png" in headers and "server-timing: " in headers
    run("multipart")
    assert (tmp_path / "photo.s80.png").read_bytes().startswith(b"\x89PNG")
    assert run("store").lower().startswith("x-pixpress-output-asset-id: ")
    asset = json.loads(run("upload"))
    assert asset["size"] == len(photo) and asset["format"] == "png"
    run("download", ASSET_ID=asset["id"])
    assert (tmp_path / "copy.png").read_bytes() == photo
    run("range", ASSET_ID=asset["id"])
    assert (tmp_path / "first100.bin").read_bytes() == photo[:100]
    assert run("delete", ASSET_ID=asset["id"]).strip() == "204"
    problem = json.loads(run("problem"))
    assert problem["status"] == 400 and problem["code"] == "INVALID_ARGUMENT"
