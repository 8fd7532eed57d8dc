"""q 100 PNG through a real server: identical pixels (alpha too), oxipng -o4's bytes or fewer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import oxipng
import pytest
import pyvips
from pixpress import Client

from tests.integration.server_process import create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    data_dir = tmp_path_factory.mktemp("lossless-png-server")
    server = start_server(data_dir, ["--workers", "1"])
    try:
        with Client(server.address, api_key=create_key(data_dir, "alice")) as client:
            yield client
    finally:
        assert server.stop() == 0, server.log


@pytest.mark.parametrize("name", ["pngsuite/basn6a08.png", "pngsuite/basn6a16.png"])
def test_quality_100_png_is_exact_and_no_larger_than_oxipng(client: Client, name: str) -> None:
    source = (FIXTURES / name).read_bytes()
    result = client.compress(source, quality=100)
    assert result.format == "png" and result.output_size <= len(source)
    peer = oxipng.optimize_from_memory(source, level=4, strip=oxipng.StripChunks.safe())
    assert result.output_size <= len(peer)
    before, after = (
        pyvips.Image.new_from_buffer(source, ""),
        pyvips.Image.new_from_buffer(result.data, ""),
    )
    assert (before.format, before.bands) == (after.format, after.bands)  # 16-bit RGBA stays
    assert np.array_equal(before.numpy(), after.numpy())
