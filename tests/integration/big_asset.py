"""A large asset through a real server's HTTP API with bounded memory: streamed up from a
generator, streamed down by a slightly slow reader, the server's RSS growth measured both ways."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psutil

from tests.integration.server_process import ServerProcess, http_client

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Growth:
    """How much the server's RSS grew above its start, at the peak of each direction."""

    up: int
    down: int


def peak_rss_while(process: psutil.Process, work: Callable[[], None]) -> int:
    """The largest RSS of `process` sampled while `work` runs, above its RSS before."""
    baseline = process.memory_info().rss
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], process.memory_info().rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        work()
    finally:
        done.set()
        sampler.join()
    return peak[0] - baseline


def round_trip(server: ServerProcess, head: bytes, padding: int) -> Growth:
    """Upload `head` and `padding` random bytes (whole MiB) through POST /v1/assets, download
    the content again; the size and sha256 must match both ways."""
    block = os.urandom(CHUNK)
    digest = hashlib.sha256(head)
    for _ in range(padding // CHUNK):
        digest.update(block)
    front = psutil.Process(server.pid)
    uploaded: dict[str, object] = {}

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(padding // CHUNK):
            yield block

    def up() -> None:
        with http_client(server) as http:
            response = http.post("/v1/assets", content=body())
        assert response.status_code == 201, response.text
        uploaded.update(response.json())

    grown_up = peak_rss_while(front, up)
    assert uploaded["size"] == len(head) + padding
    assert uploaded["sha256"] == digest.hexdigest()
    received = hashlib.sha256()
    size = [0]

    def down() -> None:
        with (
            http_client(server) as http,
            http.stream("GET", f"/v1/assets/{uploaded['id']}/content") as response,
        ):
            assert response.status_code == 200
            for data in response.iter_bytes():
                received.update(data)
                size[0] += len(data)
                time.sleep(0.0005)  # a reader a little slower than the server

    grown_down = peak_rss_while(front, down)
    assert size[0] == uploaded["size"] and received.hexdigest() == digest.hexdigest()
    return Growth(grown_up, grown_down)
