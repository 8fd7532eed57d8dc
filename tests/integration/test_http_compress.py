"""POST /v1/compress on real servers: raw and multipart bodies, every option and result
header, every format, every error as problem+json, cut-off and stalled uploads, a client
that leaves mid-response, and a 100+ MB upload with bounded server memory."""

from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
from PIL import Image

from tests.integration.big_asset import peak_rss_while
from tests.integration.server_process import ServerProcess, create_key, start_server
from tests.integration.server_process import http_client as client

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = (FIXTURES / "jpeg" / "Landscape_1.jpg").read_bytes()
PNG = (FIXTURES / "png" / "kodim23.png").read_bytes()
IDLE = 3  # --stream-idle-timeout of the main server
TERMINAL = {"succeeded", "failed", "cancelled"}
WAIT = 60.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("http-compress")
    process = start_server(
        data_dir, ["--workers", "1", "--stream-idle-timeout", str(IDLE), "--log-level", "INFO"]
    )
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """1 MiB input cap; the route is private to acme."""
    data_dir = tmp_path_factory.mktemp("http-small")
    process = start_server(
        data_dir,
        [
            *("--workers", "1", "--max-input-bytes", "1MiB"),
            *("--route-owner", "acme", "--route-visibility", "private"),
        ],
    )
    process.api_key = create_key(data_dir, "acme")
    yield process
    process.stop()


def wait_terminal(server: ServerProcess, action_id: str) -> dict[str, object]:
    """The action once it is terminal (fails the test if it stays open for WAIT seconds)."""
    deadline = time.monotonic() + WAIT
    with client(server) as http:
        while True:
            action: dict[str, object] = http.get(f"/v1/actions/{action_id}").json()
            if action["status"] in TERMINAL or time.monotonic() > deadline:
                return action
            time.sleep(0.2)


def newest_action_after(server: ServerProcess, known: set[str]) -> str:
    """The id of the one action created since `known` was taken."""
    deadline = time.monotonic() + WAIT
    with client(server) as http:
        while True:
            ids = [a["id"] for a in http.get("/v1/actions").json()["actions"]]
            new = [i for i in ids if i not in known]
            if new or time.monotonic() > deadline:
                assert len(new) == 1, new
                return str(new[0])
            time.sleep(0.2)


def action_ids(server: ServerProcess) -> set[str]:
    with client(server) as http:
        return {
            a["id"] for a in http.get("/v1/actions", params={"page_size": 100}).json()["actions"]
        }


def tmp_files(server: ServerProcess) -> list[Path]:
    return list((server.data_dir / "tmp").iterdir())


def wait_no_tmp_files(server: ServerProcess) -> list[Path]:
    deadline = time.monotonic() + WAIT
    while tmp_files(server) and time.monotonic() < deadline:
        time.sleep(0.2)
    return tmp_files(server)


def raw_connection(server: ServerProcess, receive_buffer: int = 0) -> socket.socket:
    """A plain TCP connection to the HTTP port (with a small receive window if asked: set
    before connecting, so the window is small from the start)."""
    host, port = server.http_address.rsplit(":", 1)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if receive_buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
    sock.settimeout(WAIT)
    sock.connect((host, int(port)))
    return sock


def request_head(server: ServerProcess, path: str, *headers: str) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {server.http_address}",
        f"Authorization: Bearer {server.api_key}",
        *headers,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def read_response(
    sock: socket.socket, whole: bool = True, received: bytes = b""
) -> tuple[int, bytes]:
    """The status and the response: its head, and its body when `whole` (Content-Length);
    `received` is what was read of it already."""
    while b"\r\n\r\n" not in received:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    head, _, body = received.partition(b"\r\n\r\n")
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    while whole and length and len(body) < int(length[1]):
        data = sock.recv(65536)
        if not data:
            break
        body += data
    return int(received.split(b" ", 2)[1]), head + b"\r\n\r\n" + body


def problem_of(response: httpx.Response, status: int, code: str) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, object] = response.json()
    assert body["code"] == code and body["status"] == status
    return body


# every option, every header, every format


def test_every_option_and_result_header(server: ServerProcess) -> None:
    with client(server) as http:
        response = http.post(
            "/v1/compress",
            params={"quality": 60, "effort": 3, "keep_metadata": "true", "store_output": "true"},
            content=JPEG,
        )
        assert response.status_code == 200, response.text
        headers = response.headers
        assert headers["content-type"] == "image/jpeg"
        assert response.content[:2] == b"\xff\xd8"
        assert headers["x-pixpress-quality"] == "60" and headers["x-pixpress-effort"] == "3"
        assert int(headers["x-pixpress-input-size"]) == len(JPEG)
        assert int(headers["x-pixpress-output-size"]) == len(response.content)
        assert headers["x-pixpress-kept-original"] in {"true", "false"}
        with Image.open(io.BytesIO(JPEG)) as source:
            assert headers["x-pixpress-width"] == str(source.width)
            assert headers["x-pixpress-height"] == str(source.height)
        assert headers["x-pixpress-frames"] == "1"
        stages = dict(part.strip().split(";dur=") for part in headers["server-timing"].split(","))
        assert "encode" in stages and all(float(ms) >= 0 for ms in stages.values())
        stored = headers["x-pixpress-output-asset-id"]
        asset = http.get(f"/v1/assets/{stored}").json()
        assert asset["size"] == len(response.content) and asset["format"] == "jpeg"
        assert http.get(f"/v1/assets/{stored}/content").content == response.content
        action = http.get(f"/v1/actions/{headers['x-pixpress-action-id']}").json()
    assert action["status"] == "succeeded"
    assert action["request_data"]["keep_metadata"] is True
    assert action["request_data"]["effort"] == 3


def test_target_score_and_max_bytes(server: ServerProcess) -> None:
    with client(server) as http:
        scored = http.post("/v1/compress", params={"target_score": 70}, content=JPEG)
        budget = http.post("/v1/compress", params={"max_bytes": 60_000}, content=JPEG)
    assert scored.status_code == 200, scored.text
    assert float(scored.headers["x-pixpress-score"]) > 0
    assert 1 <= int(scored.headers["x-pixpress-quality"]) <= 100
    assert budget.status_code == 200, budget.text
    assert budget.headers["x-pixpress-budget-met"] == "true"
    assert len(budget.content) <= 60_000


def _tiff(path: Path) -> bytes:
    with Image.open(io.BytesIO(PNG)) as image:
        image.convert("RGB").save(path, format="TIFF")
    return path.read_bytes()


@pytest.mark.parametrize(
    ("name", "mime", "magic"),
    [
        ("jpeg/Landscape_2.jpg", "image/jpeg", b"\xff\xd8"),
        ("png/kodim03.png", "image/png", b"\x89PNG"),
        ("webp/random_lossy.webp", "image/webp", b"RIFF"),
        ("gif/animation.gif", "image/gif", b"GIF8"),
        ("avif/hato.profile0.8bpc.yuv420.avif", "image/avif", b""),
        ("tiff", "image/tiff", b""),
    ],
)
def test_each_format_keeps_its_format_and_content_type(
    server: ServerProcess, tmp_path: Path, name: str, mime: str, magic: bytes
) -> None:
    data = _tiff(tmp_path / "kodim23.tif") if name == "tiff" else (FIXTURES / name).read_bytes()
    with client(server) as http:
        response = http.post(
            "/v1/compress", files={"file": (Path(name).name, data, "application/octet-stream")}
        )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == mime
    assert response.content.startswith(magic or response.content[:0])
    if mime == "image/avif":
        assert response.content[4:12] == b"ftypavif"
    if mime == "image/tiff":
        assert response.content[:4] in {b"II*\x00", b"MM\x00*"}
    if name.startswith("gif/"):
        with (
            Image.open(io.BytesIO(data)) as source,
            Image.open(io.BytesIO(response.content)) as out,
        ):
            assert out.n_frames == source.n_frames > 1
            assert response.headers["x-pixpress-frames"] == str(source.n_frames)


# errors


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _huge_png_header() -> bytes:
    """A valid PNG signature and IHDR claiming 100000 x 100000 RGB pixels, a tiny IDAT."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


def _bmp() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(buffer, format="BMP")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("params", "body", "detail"),
    [
        ({"quality": 0}, JPEG, "quality"),
        ({"quality": 101}, JPEG, "quality"),
        ({"effort": 11}, JPEG, "effort"),
        ({"effort": 0}, JPEG, "effort"),
        ({"target_score": 99}, JPEG, "target_score"),
        ({"target_score": "x"}, JPEG, "target_score"),
        ({"quality": 80, "target_score": 70}, JPEG, "target_score"),
        ({"max_bytes": -5}, JPEG, "max_bytes"),
        ({}, _bmp(), "unsupported format"),
        ({}, JPEG[: len(JPEG) // 3], ""),
        ({}, PNG[:100] + bytes(5000), ""),
        ({}, _huge_png_header(), "--max-pixels"),
        ({}, b"", "no image bytes"),
    ],
    ids=[
        "quality-0",
        "quality-101",
        "effort-11",
        "effort-0",
        "target-score-99",
        "target-score-text",
        "quality-and-target-score",
        "max-bytes-negative",
        "bmp",
        "truncated-jpeg",
        "corrupt-png",
        "too-many-pixels",
        "empty",
    ],
)
def test_bad_requests_are_400_problems(
    server: ServerProcess, params: dict[str, object], body: bytes, detail: str
) -> None:
    with client(server) as http:
        response = http.post("/v1/compress", params=params, content=body)
    problem = problem_of(response, 400, "INVALID_ARGUMENT")
    assert detail in str(problem["detail"])
    assert problem["instance"] == "/v1/compress"
    action_id = response.headers.get("x-pixpress-action-id")
    # Refused options make no action; a refused image is recorded: FAILED with the same code.
    assert bool(action_id) == (not params), response.headers
    if action_id:
        action = wait_terminal(server, action_id)
        assert action["status"] == "failed"
        assert action["error"] == {"code": "INVALID_ARGUMENT", "message": problem["detail"]}


def test_missing_and_wrong_keys_are_401(server: ServerProcess) -> None:
    with client(server, key=None) as http:
        missing = http.post("/v1/compress", content=JPEG)
    with client(server, key="pxp_wrong") as http:
        wrong = http.post("/v1/compress", content=JPEG)
    for response in (missing, wrong):
        problem_of(response, 401, "UNAUTHENTICATED")


def test_too_large_is_413_while_streaming(small: ServerProcess) -> None:
    """The 413 arrives after about the cap, while most of a 64 MiB body is still unsent."""
    total, chunk = 64 * 1024 * 1024, 64 * 1024
    sent = 0
    with raw_connection(small) as sock:
        sock.sendall(
            request_head(
                small, "/v1/compress", f"Content-Length: {total}", "Content-Type: image/jpeg"
            )
        )
        sock.sendall(JPEG[:chunk])
        sent = chunk
        sock.setblocking(False)
        answered = b""
        deadline = time.monotonic() + WAIT
        while b"\r\n\r\n" not in answered and time.monotonic() < deadline:
            with contextlib.suppress(BlockingIOError):
                answered += sock.recv(65536)
            if sent < total:
                try:
                    sent += sock.send(bytes(chunk))
                except (BlockingIOError, InterruptedError):
                    time.sleep(0.01)
                except OSError:
                    break
            else:
                time.sleep(0.01)
        sock.settimeout(WAIT)  # blocking again, with a bound
        # The head may have come without its body: read the rest of the response.
        _, answered = read_response(sock, received=answered)
        body = answered.split(b"\r\n\r\n", 1)
    assert body[0].startswith(b"HTTP/1.1 413"), answered[:200]
    assert b"application/problem+json" in body[0] and b"RESOURCE_EXHAUSTED" in answered
    assert sent < total // 2, f"the 413 came after {sent} of {total} bytes"


def test_too_large_multipart_is_413(small: ServerProcess) -> None:
    with client(small) as http:
        response = http.post("/v1/compress", files={"file": ("big.bin", JPEG + bytes(2 << 20))})
    problem = problem_of(response, 413, "RESOURCE_EXHAUSTED")
    assert "--max-input-bytes" in str(problem["detail"])
    assert wait_terminal(small, response.headers["x-pixpress-action-id"])["status"] == "failed"


def test_a_private_route_refuses_other_owners(small: ServerProcess) -> None:
    mallory = create_key(small.data_dir, "mallory")
    with client(small) as http:
        own = http.post("/v1/compress", content=JPEG)
    with client(small, key=mallory) as http:
        other = http.post("/v1/compress", content=JPEG)
        route = http.get("/v1/routes/acme/compress-an-image")
        owners_action = http.get(f"/v1/actions/{own.headers['x-pixpress-action-id']}")
    assert own.status_code == 200, own.text
    problem_of(other, 403, "PERMISSION_DENIED")
    problem_of(route, 404, "NOT_FOUND")
    problem_of(owners_action, 404, "NOT_FOUND")


def test_rate_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = create_key(data_dir, "alice")
    limited = start_server(data_dir, ["--workers", "1", "--rate-limit", "0.2", "--rate-burst", "1"])
    limited.api_key = key
    try:
        with client(limited) as http:
            first = http.post("/v1/compress", content=PNG)
            second = http.post("/v1/compress", content=PNG)
    finally:
        limited.stop()
    assert first.status_code == 200, first.text
    problem = problem_of(second, 429, "RESOURCE_EXHAUSTED")
    assert int(second.headers["retry-after"]) >= 1
    assert problem["retry_after"] == int(second.headers["retry-after"])


# uploads cut off, stalled, abandoned responses


def test_an_upload_cut_off_mid_stream_ends_cancelled_and_leaves_nothing(
    server: ServerProcess,
) -> None:
    known = action_ids(server)
    with raw_connection(server) as sock:
        sock.sendall(
            request_head(server, "/v1/compress", "Transfer-Encoding: chunked")
            + b"%x\r\n%s\r\n" % (len(JPEG) // 2, JPEG[: len(JPEG) // 2])
        )
        action_id = newest_action_after(server, known)
    action = wait_terminal(server, action_id)
    assert action["status"] == "cancelled", action
    assert wait_no_tmp_files(server) == []


def test_a_stalled_upload_ends_with_the_idle_timeout(server: ServerProcess) -> None:
    known = action_ids(server)
    started = time.monotonic()
    with raw_connection(server) as sock:
        sock.sendall(
            request_head(server, "/v1/compress", f"Content-Length: {len(JPEG)}")
            + JPEG[: len(JPEG) // 2]
        )
        status, answered = read_response(sock)
    waited = time.monotonic() - started
    assert status == 504, answered[:300]
    assert b"DEADLINE_EXCEEDED" in answered and b"--stream-idle-timeout" in answered
    assert IDLE - 0.5 <= waited < WAIT
    action = wait_terminal(server, newest_action_after(server, known))
    assert action["status"] == "failed"
    assert action["error"]["code"] == "DEADLINE_EXCEEDED"  # type: ignore[index]
    assert wait_no_tmp_files(server) == []


def _noise_jpeg(path: Path, side: int) -> bytes:
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        path, format="JPEG", quality=100
    )
    return path.read_bytes()


def _send_and_read_head(server: ServerProcess, sock: socket.socket, image: bytes) -> bytes:
    """POST `image` at quality 100 and read only the 200 response's head."""
    sock.sendall(
        request_head(server, "/v1/compress?quality=100", f"Content-Length: {len(image)}") + image
    )
    status, head = read_response(sock, whole=False)
    assert status == 200, head[:300]
    return head


def test_a_client_leaving_mid_response_does_not_leave_the_action_running(
    server: ServerProcess, tmp_path: Path
) -> None:
    noise = _noise_jpeg(tmp_path / "noise.jpg", 2500)  # ~10 MB out: more than socket buffers
    known = action_ids(server)
    with raw_connection(server, receive_buffer=4096) as sock:
        _send_and_read_head(server, sock, noise)
    action = wait_terminal(server, newest_action_after(server, known))
    assert action["status"] == "cancelled", action
    assert wait_no_tmp_files(server) == []


def test_a_client_that_stops_reading_loses_the_response_after_the_idle_time(
    server: ServerProcess, tmp_path: Path
) -> None:
    """The client takes the headers, then reads nothing: the action ends FAILED with
    DEADLINE_EXCEEDED (as on gRPC), its files are freed and the connection is closed."""
    noise = _noise_jpeg(tmp_path / "noise.jpg", 2500)
    known = action_ids(server)
    with raw_connection(server, receive_buffer=4096) as sock:
        head = _send_and_read_head(server, sock, noise)
        action = wait_terminal(server, newest_action_after(server, known))
        assert action["status"] == "failed", action
        assert action["error"]["code"] == "DEADLINE_EXCEEDED"  # type: ignore[index]
        assert "--stream-idle-timeout" in action["error"]["message"]  # type: ignore[index]
        assert wait_no_tmp_files(server) == []
        received = len(head)
        while data := sock.recv(1 << 20):  # the rest of what was sent, then the close
            received += len(data)
    length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
    assert length is not None and received < len(head) + int(length[1])


# memory


def test_a_100_mb_upload_does_not_grow_the_server_by_its_size(server: ServerProcess) -> None:
    """A JPEG followed by 110 MB of padding, streamed: the front process's RSS stays far
    below the body's size (sampled while it streams)."""
    padding, chunk = 110 * 1024 * 1024, 1024 * 1024
    answers: list[httpx.Response] = []

    def body() -> Iterator[bytes]:
        yield JPEG
        block = os.urandom(chunk)
        for _ in range(padding // chunk):
            yield block

    def send() -> None:
        with client(server) as http:
            answers.append(http.post("/v1/compress", params={"quality": 70}, content=body()))

    grown = peak_rss_while(psutil.Process(server.pid), send)
    (response,) = answers
    assert response.status_code == 200, response.text
    assert int(response.headers["x-pixpress-input-size"]) == len(JPEG) + padding
    assert response.content[:2] == b"\xff\xd8"
    assert grown < 40 * 1024 * 1024, f"the server grew by {grown / 2**20:.0f} MiB"
