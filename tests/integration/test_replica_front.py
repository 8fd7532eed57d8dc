"""Two real replicas behind the front: the SDK's own round-robin over several targets, and
Debian's nginx with deploy/nginx's configuration (gRPC, HTTP, uploads above nginx's default
body limit, Server-Sent Events). Each replica keeps its own SQLite store here, so the actions
each one recorded show where the calls landed."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from pixpress import Client, NotFoundError

from tests.integration.nginx_process import (
    SHIPPED,
    SHIPPED_VALUES,
    NginxProcess,
    render,
    start_nginx,
)
from tests.integration.server_process import ServerProcess, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"
USE = "/v1/routes/pixpress/compress-an-image/use"
# zopfli at q 100, effort 10 on a 0.39 MP PNG keeps the one worker busy for many seconds: long
# enough to read an event of the running action before it ends (it is cancelled, never awaited).
SLOW = {"quality": 100, "effort": 10}
TIMEOUT = 120.0
CALLS = 6


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[ServerProcess]]:
    started: list[ServerProcess] = []
    try:
        for name in ("a", "b"):
            data_dir = tmp_path_factory.mktemp(f"replica-{name}")
            started.append(start_server(data_dir, ["--workers", "1", "--insecure-no-auth"]))
        yield started
    finally:
        for replica in started:
            replica.stop()


@pytest.fixture(scope="module")
def nginx(
    replicas: list[ServerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxProcess]:
    process = start_nginx(
        tmp_path_factory.mktemp("nginx"),
        [replica.address for replica in replicas],
        [replica.http_address for replica in replicas],
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def nginx_of_one(
    replicas: list[ServerProcess], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[NginxProcess]:
    """The same configuration in front of the first replica alone: an action's event stream
    must reach the replica that holds it, and these replicas share no store."""
    process = start_nginx(
        tmp_path_factory.mktemp("nginx-one"), [replicas[0].address], [replicas[0].http_address]
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def photo() -> bytes:
    return (FIXTURES / "png" / "kodim23.png").read_bytes()


@pytest.fixture(scope="module")
def noise_png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A PNG of random pixels, about 2.4 MB: above nginx's default 1 MiB body limit."""
    pixels = np.random.default_rng(10).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    path = tmp_path_factory.mktemp("noise") / "noise.png"
    Image.fromarray(pixels).save(path, compress_level=1)
    assert path.stat().st_size > 2 * 1024 * 1024
    return path


def action_counts(replicas: list[ServerProcess]) -> list[int]:
    """How many actions each replica recorded in its own store."""
    counts = []
    for replica in replicas:
        with Client(replica.address, timeout=TIMEOUT) as client:
            counts.append(sum(1 for _ in client.actions.iter()))
    return counts


def added(before: list[int], after: list[int]) -> list[int]:
    return [later - earlier for earlier, later in zip(before, after, strict=True)]


def test_the_shipped_configuration_is_the_template_filled() -> None:
    assert SHIPPED.read_text() == render(
        SHIPPED_VALUES["grpc_listen"],
        SHIPPED_VALUES["http_listen"],
        SHIPPED_VALUES["grpc"],
        SHIPPED_VALUES["http"],
    )


@pytest.mark.parametrize("as_list", [False, True], ids=["comma-separated", "list"])
def test_the_sdk_spreads_calls_over_several_targets(
    replicas: list[ServerProcess], photo: bytes, as_list: bool
) -> None:
    addresses = [replica.address for replica in replicas]
    before = action_counts(replicas)
    with Client(addresses if as_list else ",".join(addresses), timeout=TIMEOUT) as client:
        results = [client.compress(photo, quality=70) for _ in range(CALLS)]
    landed = added(before, action_counts(replicas))
    assert all(result.format == "png" and result.action_id for result in results)
    assert sum(landed) == CALLS and min(landed) >= 1, landed


def test_the_cli_spreads_files_over_the_servers_of_pixpress_server(
    replicas: list[ServerProcess], tmp_path: Path
) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    for index in range(CALLS):
        shutil.copyfile(FIXTURES / "png" / "kodim23.png", inputs / f"photo{index}.png")
    before = action_counts(replicas)
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")},
        "PIXPRESS_SERVER": ",".join(replica.address for replica in replicas),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixpress.cli",
            "compress",
            str(inputs),
            "-o",
            str(tmp_path / "out"),
            "-q",
            "70",
            "-j",
            "2",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    landed = added(before, action_counts(replicas))
    assert sum(landed) == CALLS and min(landed) >= 1, landed
    assert len(list((tmp_path / "out").glob("*.png"))) == CALLS


def test_a_dns_target_is_served_by_the_addresses_that_answer(
    replicas: list[ServerProcess], photo: bytes
) -> None:
    # localhost may also name ::1, where no replica listens: round_robin uses the ready one.
    # (Balancing itself is checked in tests/unit/test_client_targets.py: here every address
    # of the name has the same port, and only one replica can listen on it.)
    with Client(f"dns:///localhost:{replicas[0].port}", timeout=TIMEOUT) as client:
        assert client.compress(photo, quality=70).format == "png"


def test_grpc_through_nginx_reaches_both_replicas(
    nginx: NginxProcess, replicas: list[ServerProcess], photo: bytes, noise_png: Path
) -> None:
    before = action_counts(replicas)
    with Client(nginx.grpc_address, timeout=TIMEOUT) as client:
        results = [client.compress(photo, quality=70) for _ in range(CALLS)]
        asset = client.assets.upload(noise_png)
    landed = added(before, action_counts(replicas))
    assert all(result.format == "png" and result.output_size > 0 for result in results)
    assert sum(landed) == CALLS and min(landed) >= 1, landed
    assert asset.size == noise_png.stat().st_size
    grpc_upstreams = {address for address in nginx.upstreams() if address in _grpc(replicas)}
    assert grpc_upstreams == _grpc(replicas)


def _grpc(replicas: list[ServerProcess]) -> set[str]:
    return {replica.address for replica in replicas}


def test_http_through_nginx_reaches_both_replicas(
    nginx: NginxProcess, replicas: list[ServerProcess], photo: bytes, noise_png: Path
) -> None:
    before = action_counts(replicas)
    with httpx.Client(base_url=f"http://{nginx.http_address}", timeout=TIMEOUT) as http:
        responses = [http.post("/v1/compress?quality=70", content=photo) for _ in range(CALLS)]
        upload = http.post("/v1/assets", content=noise_png.read_bytes())
    landed = added(before, action_counts(replicas))
    for response in responses:
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "image/png"
        assert response.content.startswith(b"\x89PNG")
    assert sum(landed) == CALLS and min(landed) >= 1, landed
    assert upload.status_code == 201, upload.text
    assert upload.json()["size"] == noise_png.stat().st_size


def test_nginx_refuses_a_body_above_its_limit_before_reading_it(nginx: NginxProcess) -> None:
    # 300 MiB announced, none sent: nginx answers from the Content-Length alone.
    host, port = nginx.http_address.rsplit(":", 1)
    head = (
        f"POST /v1/assets HTTP/1.1\r\nHost: {nginx.http_address}\r\n"
        f"Content-Length: {300 * 1024 * 1024}\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=TIMEOUT) as connection:
        connection.sendall(head.encode())
        status_line = connection.makefile("rb").readline()
    assert status_line.split()[1] == b"413", status_line


def test_server_sent_events_stream_through_nginx(
    nginx_of_one: NginxProcess, replicas: list[ServerProcess]
) -> None:
    big = (CORPUS / "photos" / "kodak" / "kodim13.png").read_bytes()
    with (
        httpx.Client(base_url=f"http://{nginx_of_one.http_address}", timeout=TIMEOUT) as http,
        httpx.Client(base_url=f"http://{nginx_of_one.http_address}", timeout=TIMEOUT) as control,
    ):
        asset = http.post("/v1/assets", content=big).json()["id"]
        body = {"body": SLOW, "input_asset": {"assetId": asset, "assetType": "file"}}
        submitted = http.post(USE, json=body, headers={"Prefer": "respond-async"})
        assert submitted.status_code == 202, submitted.text
        action_id = submitted.json()["id"]
        with http.stream("GET", f"/v1/actions/{action_id}/events") as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.iter_lines()
            first = _event_name(lines)
            # The first event came through while the action still runs: nginx did not hold
            # the stream back. Cancelling ends the action and so the stream.
            cancelled = control.post(f"/v1/actions/{action_id}/cancel")
            rest = list(iter(lambda: _event_name(lines), None))
    assert first in {"queued", "running"}, first
    assert cancelled.status_code == 200, cancelled.text
    assert rest and rest[-1] == "cancelled", rest
    with Client(replicas[1].address, timeout=TIMEOUT) as other, pytest.raises(NotFoundError):
        other.actions.retrieve(action_id)  # it was the first replica's


def _event_name(lines: Iterator[str]) -> str | None:
    """The name of the next event of a text/event-stream, or None at its end."""
    for line in lines:
        if line.startswith("event: "):
            return line.removeprefix("event: ")
    return None
