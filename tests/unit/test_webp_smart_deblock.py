"""Lossy WebP: only effort 10 turns on libwebp's smart_deblock (autofilter)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image
from pixpress_server.processing import vips
from pixpress_server.processing.encoders import webp
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import ImageFormat

from tests.conftest import FIXTURES_DIR


@pytest.fixture
def lossy_webp(tmp_path: Path) -> Path:
    path = tmp_path / "photo.webp"
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        image.convert("RGB").crop((200, 100, 456, 356)).save(path, quality=95)
    return path


def _encode(source: Path, effort: int) -> Encoded:
    image = vips.load(source, ImageFormat.WEBP)
    policy = MetadataPolicy(keep_all=False)
    encoded = webp.encode(EncodeRequest(image, source.read_bytes(), 60, policy, effort))
    assert isinstance(encoded, Encoded)
    return encoded


def test_effort_10_alone_adds_smart_deblock(lossy_webp: Path) -> None:
    by_effort = {effort: _encode(lossy_webp, effort) for effort in (5, 9, 10)}
    assert by_effort[5].mode == "q=60 effort=4"
    assert by_effort[9].mode == "q=60 effort=6"
    assert by_effort[10].mode == "q=60 effort=6 smart_deblock"
    assert by_effort[10].data != by_effort[9].data  # same method, the filter strength differs
