"""Assets over HTTP on a real server: upload raw and multipart, metadata, content with
ETag/If-None-Match and Range, delete, isolation between owners, the storage quota, a stalled
upload, and a 100+ MB asset up and down with bounded server memory."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.big_asset import round_trip
from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
QUOTA = 600_000  # --max-storage-per-owner: one JPEG fits, two do not
IDLE = 3


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-assets")
    process = start_server(
        data_dir, ["--workers", "1", "--stream-idle-timeout", str(IDLE), "--log-level", "INFO"]
    )
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


def upload(server: ServerProcess, data: bytes) -> dict[str, object]:
    with client(server) as http:
        response = http.post("/v1/assets", content=data)
    assert response.status_code == 201, response.text
    asset: dict[str, object] = response.json()
    return asset


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["code"] == code
    return body


def test_upload_raw_and_multipart(server: ServerProcess) -> None:
    with client(server) as http:
        raw = http.post("/v1/assets", content=JPEG, headers={"Content-Type": "image/jpeg"})
        form = http.post("/v1/assets", files={"file": ("kodim23.png", PNG, "image/png")})
        for response, data, kind in ((raw, JPEG, "jpeg"), (form, PNG, "png")):
            assert response.status_code == 201, response.text
            asset = response.json()
            assert response.headers["location"] == f"/v1/assets/{asset['id']}"
            assert asset["owner"] == "alice" and asset["size"] == len(data)
            assert asset["format"] == kind
            assert asset["sha256"] == hashlib.sha256(data).hexdigest()
            assert http.get(response.headers["location"]).json() == asset
            content = http.get(f"{response.headers['location']}/content")
            assert content.content == data
            assert content.headers["content-type"] == f"image/{kind}"


def test_uploads_that_are_not_images_or_not_one_file_are_400(server: ServerProcess) -> None:
    with client(server) as http:
        text = http.post("/v1/assets", content=b"plain text, not an image" * 50)
        no_file = http.post("/v1/assets", files={"image": ("a.jpg", JPEG)})
        two_files = http.post(
            "/v1/assets", files=[("file", ("a.jpg", JPEG)), ("file", ("b", JPEG))]
        )
    problem_of(text, 400, "INVALID_ARGUMENT")
    assert "`file`" in str(problem_of(no_file, 400, "INVALID_ARGUMENT")["detail"])
    assert "one `file`" in str(problem_of(two_files, 400, "INVALID_ARGUMENT")["detail"])


def test_content_etag_and_if_none_match(server: ServerProcess) -> None:
    asset = upload(server, PNG)
    path = f"/v1/assets/{asset['id']}/content"
    with client(server) as http:
        full = http.get(path)
        etag = full.headers["etag"]
        same = http.get(path, headers={"If-None-Match": etag})
        weak_in_list = http.get(path, headers={"If-None-Match": f'"other", W/{etag}'})
        other = http.get(path, headers={"If-None-Match": '"something-else"'})
    assert etag == f'"{asset["sha256"]}"'
    assert full.headers["accept-ranges"] == "bytes"
    assert int(full.headers["content-length"]) == len(PNG)
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    assert weak_in_list.status_code == 304
    assert other.status_code == 200 and other.content == PNG


@pytest.mark.parametrize(
    ("header", "status", "span"),
    [
        ("bytes=0-99", 206, (0, 99)),
        ("bytes=1000-", 206, (1000, None)),
        ("bytes=-100", 206, (-100, None)),
        ("bytes=5-5", 206, (5, 5)),
        ("bytes=0-99999999", 206, (0, None)),
        ("bytes=99999999-", 416, None),
        ("bytes=-0", 416, None),
        ("bytes=50-10", 416, None),
        ("bytes=abc", 200, None),
        ("items=0-10", 200, None),
        ("bytes=0-1,5-6", 200, None),
    ],
)
def test_ranges(
    server: ServerProcess, header: str, status: int, span: tuple[int, int | None] | None
) -> None:
    asset = upload(server, JPEG)
    with client(server) as http:
        response = http.get(f"/v1/assets/{asset['id']}/content", headers={"Range": header})
    assert response.status_code == status, response.text
    if status == 200:
        assert response.content == JPEG and "content-range" not in response.headers
    elif status == 416:
        assert response.headers["content-range"] == f"bytes */{len(JPEG)}"
    else:
        assert span is not None
        start, end = span
        start = start if start >= 0 else len(JPEG) + start
        last = len(JPEG) - 1 if end is None else end
        assert response.content == JPEG[start : last + 1]
        assert response.headers["content-range"] == f"bytes {start}-{last}/{len(JPEG)}"
        assert int(response.headers["content-length"]) == last - start + 1


def test_if_range_with_another_etag_sends_the_whole_content(server: ServerProcess) -> None:
    asset = upload(server, JPEG)
    with client(server) as http:
        response = http.get(
            f"/v1/assets/{asset['id']}/content",
            headers={"Range": "bytes=0-9", "If-Range": '"stale"'},
        )
    assert response.status_code == 200 and response.content == JPEG


def test_delete_then_404(server: ServerProcess) -> None:
    asset = upload(server, PNG)
    path = f"/v1/assets/{asset['id']}"
    with client(server) as http:
        deleted = http.delete(path)
        again = http.delete(path)
        metadata = http.get(path)
        content = http.get(f"{path}/content")
    assert deleted.status_code == 204 and deleted.content == b""
    for response in (again, metadata, content):
        problem_of(response, 404, "NOT_FOUND")


def test_another_owners_asset_is_404_and_untouched(server: ServerProcess) -> None:
    asset = upload(server, JPEG)
    path = f"/v1/assets/{asset['id']}"
    bob = create_key(server.data_dir, "bob")
    with client(server, key=bob) as http:
        responses = [http.get(path), http.get(f"{path}/content"), http.delete(path)]
    for response in responses:
        problem_of(response, 404, "NOT_FOUND")
    with client(server) as http:
        assert http.get(f"{path}/content").content == JPEG


def test_missing_key_and_malformed_ids(server: ServerProcess) -> None:
    with client(server, key=None) as http:
        problem_of(http.post("/v1/assets", content=JPEG), 401, "UNAUTHENTICATED")
    with client(server) as http:
        response = http.get("/v1/assets/not-a-uuid")
    assert response.status_code in {400, 404}, response.text
    assert response.json()["code"] in {"INVALID_ARGUMENT", "NOT_FOUND"}


def test_a_stalled_upload_ends_with_the_idle_timeout(server: ServerProcess) -> None:
    """httpx sends half the body, then waits 3x the idle time before the rest (it reads the
    answer only then): the server has answered 504 after the idle time, not 201."""
    gate = threading.Event()

    def body() -> Iterator[bytes]:
        yield JPEG[: len(JPEG) // 2]
        gate.wait(IDLE * 3)
        yield JPEG[len(JPEG) // 2 :]

    started = time.monotonic()
    try:
        with client(server) as http:
            response = http.post(
                "/v1/assets", content=body(), headers={"Content-Length": str(len(JPEG))}
            )
    except httpx.TransportError:  # the server answered and closed while the body was pending
        pytest.fail("the server closed the connection without a problem response")
    finally:
        gate.set()
    assert time.monotonic() - started >= IDLE - 0.5
    assert "--stream-idle-timeout" in str(problem_of(response, 504, "DEADLINE_EXCEEDED")["detail"])


def test_the_storage_quota_is_413(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    quota = start_server(data_dir, ["--workers", "1", "--max-storage-per-owner", str(QUOTA)])
    quota.api_key = key
    try:
        first = upload(quota, JPEG)
        with client(quota) as http:
            second = http.post("/v1/assets", content=JPEG[:-1] + b"\x00")
            listing_after = http.get(f"/v1/assets/{first['id']}")
    finally:
        quota.stop()
    assert "storage quota" in str(problem_of(second, 413, "RESOURCE_EXHAUSTED")["detail"])
    assert listing_after.status_code == 200


def test_a_110_mb_asset_goes_up_and_down_with_bounded_server_memory(
    server: ServerProcess,
) -> None:
    grown = round_trip(server, JPEG, 110 * 1024 * 1024)
    limit = 40 * 1024 * 1024
    assert grown.up < limit, f"upload: the server grew by {grown.up / 2**20:.0f} MiB"
    assert grown.down < limit, f"download: the server grew by {grown.down / 2**20:.0f} MiB"
