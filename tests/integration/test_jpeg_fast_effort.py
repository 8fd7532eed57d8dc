"""Effort 1 through a real server on a JPEG already at or below the quality asked: the
source's own scans come back (no pass), without its EXIF, GPS and comments, same pixels."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from pixpress import Client, InvalidArgumentError

from tests.conftest import FIXTURES_DIR

ORIENTATION, GPS_IFD = 0x0112, 0x8825


def camera_like() -> bytes:
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as opened:
        image = opened.convert("RGB")
    exif = Image.Exif()
    exif.update({ORIENTATION: 6, 0x010F: "camera maker"})
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0)})
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80, exif=exif.tobytes(), comment=b"a comment")
    return buffer.getvalue()


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def test_effort_1_returns_the_source_scans_without_metadata(address: str, api_key: str) -> None:
    source = camera_like()
    with Client(address, api_key=api_key) as client:
        fast = client.compress(source, quality=90, effort=1)
        default = client.compress(source, quality=90, effort=5)
    assert not fast.kept_original and fast.effort == 1
    assert fast.output_size < len(source)
    assert np.array_equal(pixels(fast.data), pixels(source))
    with Image.open(io.BytesIO(fast.data)) as image:
        assert dict(image.getexif()) == {ORIENTATION: 6}
        assert "comment" not in image.info
    # The default effort's lossless pass saves more, on the same pixels.
    assert default.output_size < fast.output_size
    assert np.array_equal(pixels(default.data), pixels(source))


def test_effort_1_still_refuses_a_truncated_jpeg(address: str, api_key: str) -> None:
    source = (FIXTURES_DIR / "jpeg" / "Landscape_1.jpg").read_bytes()  # IJG quality 73
    with Client(address, api_key=api_key) as client, pytest.raises(InvalidArgumentError) as error:
        client.compress(source[: len(source) * 2 // 3], quality=90, effort=1)
    assert error.value.message == "corrupt or truncated jpeg"
