"""The served OpenAPI document on a real server: what it documents, the offline docs, and
schemathesis against it with a real key (no 5xx, every response as documented)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pyvips

from tests.integration.server_process import ServerProcess, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES_PER_OPERATION = 15
ERROR_STATUSES = {"400", "401", "403", "404", "409", "413", "429", "500", "503", "504"}
IMAGE_BODIES = {("post", "/v1/compress"), ("post", "/v1/assets")}
PROBLEM = {"schema": {"$ref": "#/components/schemas/ProblemJson"}}

# A schema-valid request may still be refused where the schema cannot say what is valid: 400
# for an image body (any bytes fit `format: binary`) and for an opaque page token, 416 for a
# well-formed Range past the asset's end (stateful runs judge a chain by its first operation,
# so 416 is expected everywhere).
SCHEMATHESIS_CONFIG = """
[checks.positive_data_acceptance]
expected-statuses = ["2xx", "3xx", 401, 403, 404, 409, 416, 429]

[[operations]]
include-path-regex = "^/v1/(compress|assets|actions)$"
include-method-regex = "^(POST|GET)$"
checks.positive_data_acceptance.expected-statuses = ["2xx", 400, 401, 403, 404, 409, 416, 429]
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-schemathesis")
    # schemathesis sends missing and wrong keys on purpose, hundreds of requests a second:
    # neither the failed-auth throttle nor the key's rate limit may answer 429 for them.
    limits = ["--max-auth-failures", "1000000", "--rate-limit", "0"]
    process = start_server(data_dir, ["--workers", "1", *limits])
    yield process
    process.stop()


@pytest.fixture(scope="module")
def key(server: ServerProcess) -> str:
    return create_key(server.data_dir, "alice")


@pytest.fixture(scope="module")
def spec(server: ServerProcess) -> dict[str, Any]:
    response = httpx.get(f"http://{server.http_address}/openapi.json", timeout=60)
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, items in spec["paths"].items():
        for method, operation in items.items():
            yield method, path, operation


def test_every_operation_documents_its_parameters_and_errors_as_problems(
    spec: dict[str, Any],
) -> None:
    found = list(operations(spec))
    assert len(found) == 14
    for method, path, operation in found:
        where = f"{method.upper()} {path}"
        assert operation.get("summary"), where
        for parameter in operation.get("parameters", []):
            assert parameter.get("description"), (where, parameter["name"])
        responses = operation["responses"]
        assert "422" not in responses, where  # validation errors are answered as 400
        errors = {status for status in responses if int(status) >= 400}
        keyed = path.startswith("/v1/")  # all but GET /healthz, which takes nothing
        assert ({"400", "401", "429", "500"} if keyed else {"500", "503"}) <= errors, where
        for status in errors - {"416"}:
            assert responses[status]["content"] == {"application/problem+json": PROBLEM}, (
                where,
                status,
            )
        if keyed:
            assert operation["security"] == [{"apiKey": []}], where
        if "{" in path:
            assert "404" in responses, where
    schemes = spec["components"]["securitySchemes"]
    assert schemes["apiKey"] == {**schemes["apiKey"], "type": "http", "scheme": "bearer"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    problem = spec["components"]["schemas"]["ProblemJson"]
    assert {"status", "detail", "code", "title"} <= set(problem["required"])


def test_bodies_statuses_and_content_types_where_they_apply(spec: dict[str, Any]) -> None:
    paths = spec["paths"]
    for method, path in IMAGE_BODIES:
        content = paths[path][method]["requestBody"]["content"]
        assert set(content) == {"application/octet-stream", "multipart/form-data"}, path
        assert content["multipart/form-data"]["schema"]["required"] == ["file"]
    compressed = paths["/v1/compress"]["post"]["responses"]["200"]
    assert {"image/jpeg", "image/png", "image/webp", "image/gif", "image/avif"} <= set(
        compressed["content"]
    )
    assert {"X-Pixpress-Action-Id", "X-Pixpress-Output-Size", "Server-Timing"} <= set(
        compressed["headers"]
    )
    quality = next(p for p in paths["/v1/compress"]["post"]["parameters"] if p["name"] == "quality")
    assert (quality["schema"]["minimum"], quality["schema"]["maximum"]) == (1, 100)
    assert set(paths["/v1/assets"]["post"]["responses"]) >= {"201"}
    assert set(paths["/v1/assets/{asset_id}"]["delete"]["responses"]) >= {"204", "404"}
    content = paths["/v1/assets/{asset_id}/content"]["get"]
    assert {"200", "206", "304", "416"} <= set(content["responses"])
    assert "image/png" in content["responses"]["206"]["content"]
    headers = {p["name"] for p in content["parameters"] if p["in"] == "header"}
    assert headers == {"Range", "If-None-Match", "If-Range"}
    for path in ("/v1/routes/{route_id}/use", "/v1/routes/{route_owner}/{name}/use"):
        use = paths[path]["post"]
        assert use["requestBody"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/UseRequest"
        }
        assert {"200", "202", "404"} <= set(use["responses"])
        assert set(use["responses"]["202"]["headers"]) == {"Location", "Preference-Applied"}
    cancel = paths["/v1/actions/{action_id}/cancel"]["post"]["responses"]
    assert "409" in cancel
    events = paths["/v1/actions/{action_id}/events"]["get"]["responses"]["200"]["content"]
    event = events["text/event-stream"]["schema"]
    assert event["properties"]["event"]["enum"] == [
        "queued",
        "running",
        "succeeded",
        "failed",
        "cancelled",
    ]
    body = spec["components"]["schemas"]["UseBody"]
    assert body["additionalProperties"] is False
    assert (body["properties"]["quality"]["minimum"], body["properties"]["effort"]["maximum"]) == (
        1,
        10,
    )


def test_the_docs_reference_only_what_the_server_serves(server: ServerProcess) -> None:
    base = f"http://{server.http_address}"
    with httpx.Client(base_url=base, timeout=60) as http:
        pages = {page: http.get(page) for page in ("/docs", "/redoc")}
        urls: set[str] = set()
        for page, response in pages.items():
            assert response.status_code == 200, page
            html = response.text
            found = re.findall(r"""(?:src|href|spec-url)=["']([^"']+)["']""", html)
            found += re.findall(r"""url:\s*['"]([^'"]+)['"]""", html)
            assert found, page
            assert "https://" not in html and "http://" not in html, page
            urls.update(found)
        served = {url: http.get(url) for url in urls}
    assert {"/openapi.json", "/docs-assets/swagger-ui-bundle.js"} <= urls
    for url, response in served.items():
        assert url.startswith("/"), url
        assert response.status_code == 200, url
        assert response.content, url
    assert '"validatorUrl": null' in pages["/docs"].text  # no badge from validator.swagger.io


def test_target_score_on_an_image_too_small_to_score(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    # Found by schemathesis: SSIMULACRA2 needs 8x8 pixels, and a 1x1 PNG was a 500.
    source = tmp_path / "kodim23.png"
    shutil.copyfile(FIXTURES / "png" / "kodim23.png", source)
    tiny = pyvips.Image.new_from_file(str(source)).crop(300, 200, 5, 4).write_to_buffer(".png")
    with httpx.Client(
        base_url=f"http://{server.http_address}",
        headers={"Authorization": f"Bearer {key}"},
        timeout=120,
    ) as http:
        response = http.post("/v1/compress", params={"target_score": 70}, content=tiny)
    assert response.status_code == 200, response.text
    assert response.headers["x-pixpress-width"] == "5"
    assert response.content.startswith(b"\x89PNG")


def test_schemathesis_finds_nothing(server: ServerProcess, key: str, tmp_path: Path) -> None:
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG)
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"http://{server.http_address}/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        "20261201",
        "--workers",
        "1",
        "--request-timeout",
        "60",
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=600, cwd=tmp_path, check=False
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert "Tested: 14" in report, report
    assert "Server error" not in report, report
