"""The JPEG encoder by effort: jpegli (alone or with the lossless pass) or mozjpeg fallbacks,
and every policy kept on each path (quality ceiling, subsampling, ICC, orientation, grey, CMYK).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pyjpegli
import pytest
from PIL import Image
from pixpress_server.processing import jpegli, pipeline, vips
from pixpress_server.processing.encoders import jpeg
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
from pixpress_server.processing.jpeg_quality import estimate_quality, read_header
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits

from tests.conftest import FIXTURES_DIR

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
ORIENTATION = 0x0112
_SOF_BASELINE, _SOF_PROGRESSIVE = b"\xff\xc0", b"\xff\xc2"


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def kodak() -> Image.Image:
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        return image.convert("RGB")


def icc_profile() -> bytes:
    path = FIXTURES_DIR / "avif" / "red-at-12-oclock-with-color-profile-8bpc.avif"
    return bytes(vips.load(path, ImageFormat.AVIF).image.get("icc-profile-data"))


def make_jpeg(
    tmp: Path, *, mode: str = "RGB", subsampling: int = 2, quality: int = 95, **save: Any
) -> Path:
    path = tmp / f"source-{mode}-{subsampling}-{quality}.jpg"
    kodak().convert(mode).save(path, quality=quality, subsampling=subsampling, **save)
    return path


def encode(source: Path, quality: int, effort: int, *, keep_all: bool = False) -> Encoded:
    image = vips.load(source, ImageFormat.JPEG)
    request = EncodeRequest(
        image, source.read_bytes(), quality, MetadataPolicy(keep_all=keep_all), effort
    )
    result = jpeg.encode(request)
    assert isinstance(result, Encoded)
    return result


def compress(source: Path, quality: int, effort: int, *, keep_metadata: bool = False) -> bytes:
    destination = source.with_name(f"out-{quality}-{effort}-{keep_metadata}.jpg")
    options = CompressOptions(quality=quality, effort=effort, keep_metadata=keep_metadata)
    outcome = pipeline.compress(source, destination, options, LIMITS)
    assert outcome.effort == effort
    return source.read_bytes() if outcome.kept_original else destination.read_bytes()


def components(data: bytes) -> tuple[tuple[int, int, int], ...]:
    header = read_header(data)
    assert header is not None
    return header.components


@pytest.mark.parametrize(
    ("effort", "mode", "postpass"),
    [(1, "jpegli q=60", False), (2, "jpegli q=60", False), (3, "jpegli+pass q=60", True)]
    + [(effort, "jpegli+pass q=60", True) for effort in (5, 10)],
)
def test_effort_picks_the_jpegli_path(
    tmp_path: Path, effort: int, mode: str, postpass: bool
) -> None:
    result = encode(make_jpeg(tmp_path), 60, effort)
    assert (result.mode, result.postpass) == (mode, postpass)
    assert result.data.startswith(b"\xff\xd8" + jpegli.DEFAULT_JFIF)
    assert components(result.data) == ((2, 2, 0), (1, 1, 1), (1, 1, 1))


def test_the_lossless_pass_saves_bytes_at_default_effort(tmp_path: Path) -> None:
    source = make_jpeg(tmp_path)
    fast, default = compress(source, 60, 1), compress(source, 60, 5)
    assert _SOF_BASELINE in fast[:1000] and _SOF_PROGRESSIVE in default[:1000]
    assert len(default) < 0.97 * len(fast)
    # Same coefficients: the pass is lossless.
    assert decoded(fast).tobytes() == decoded(default).tobytes()


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.mark.parametrize(
    ("effort", "mode", "sof"),
    [
        (1, "mozjpeg fast", _SOF_BASELINE),
        (5, "mozjpeg", _SOF_PROGRESSIVE),
        (8, "mozjpeg", _SOF_PROGRESSIVE),
    ],
)
def test_full_chroma_source_stays_444_on_mozjpeg(
    tmp_path: Path, effort: int, mode: str, sof: bytes
) -> None:
    result = encode(make_jpeg(tmp_path, subsampling=0), 60, effort)
    assert result.mode == f"{mode} q=60" and not result.postpass
    assert components(result.data) == ((1, 1, 0), (1, 1, 1), (1, 1, 1))
    assert sof in result.data[:2000]


def test_scan_optimisation_changes_the_high_effort_output(tmp_path: Path) -> None:
    source = make_jpeg(tmp_path, subsampling=0)
    assert encode(source, 60, 5).data != encode(source, 60, 8).data


@pytest.mark.parametrize("effort", [1, 5])
@pytest.mark.parametrize(("mode", "bands"), [("L", 1), ("CMYK", 4)])
def test_grey_and_cmyk_fall_back_to_mozjpeg(
    tmp_path: Path, effort: int, mode: str, bands: int
) -> None:
    source = make_jpeg(tmp_path, mode=mode)
    result = encode(source, 60, effort)
    assert result.mode.startswith("mozjpeg")
    assert len(components(result.data)) == bands
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.mode == mode


@pytest.mark.parametrize("effort", [1, 5])
def test_icc_profile_bytes_kept(tmp_path: Path, effort: int) -> None:
    profile = icc_profile()
    source = make_jpeg(tmp_path, icc_profile=profile)
    output = compress(source, 60, effort)
    with Image.open(io.BytesIO(output)) as image:
        assert image.info["icc_profile"] == profile


def test_icc_profile_over_one_segment_kept(tmp_path: Path) -> None:
    # Over 64 KiB: Pillow writes it as several APP2 chunks; all of them must be carried over.
    profile = icc_profile() + bytes(range(256)) * 300
    source = make_jpeg(tmp_path, icc_profile=profile)
    result = encode(source, 60, 1)
    assert result.mode == "jpegli q=60"
    assert result.data.count(b"ICC_PROFILE\x00") == 2
    with Image.open(io.BytesIO(result.data)) as image:
        assert image.info["icc_profile"] == profile


@pytest.mark.parametrize("effort", [1, 5])
def test_orientation_kept_metadata_dropped(tmp_path: Path, effort: int) -> None:
    exif = Image.Exif()
    exif.update({ORIENTATION: 6, 0x010F: "camera maker"})
    source = make_jpeg(tmp_path, exif=exif.tobytes(), comment=b"a comment")
    output = compress(source, 60, effort)
    with Image.open(io.BytesIO(output)) as image:
        assert dict(image.getexif()) == {ORIENTATION: 6}
        assert "comment" not in image.info


@pytest.mark.parametrize("effort", [1, 5])
def test_keep_metadata_keeps_every_segment(tmp_path: Path, effort: int) -> None:
    exif = Image.Exif()
    exif.update({ORIENTATION: 6, 0x010F: "camera maker"})
    profile = icc_profile()
    source = make_jpeg(
        tmp_path, exif=exif.tobytes(), comment=b"a comment", icc_profile=profile, dpi=(300, 300)
    )
    output = compress(source, 60, effort, keep_metadata=True)
    with Image.open(io.BytesIO(output)) as image, Image.open(source) as original:
        assert image.info["exif"] == original.info["exif"]
        assert image.info["comment"] == b"a comment"
        assert image.info["icc_profile"] == profile
        assert image.info["dpi"] == (300, 300)


@pytest.mark.parametrize("effort", [1, 5, 10])
def test_quality_is_monotonic_in_bytes_per_effort(tmp_path: Path, effort: int) -> None:
    source = make_jpeg(tmp_path, quality=98)
    sizes = [len(compress(source, quality, effort)) for quality in (30, 50, 70, 90)]
    assert sizes == sorted(sizes) and len(set(sizes)) == len(sizes)


@pytest.mark.parametrize("effort", [1, 10])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_quality_100_keeps_pixels(tmp_path: Path, effort: int, subsampling: int) -> None:
    source = make_jpeg(tmp_path, subsampling=subsampling)
    output = compress(source, 100, effort)
    assert len(output) < source.stat().st_size
    assert decoded(output).tobytes() == decoded(source.read_bytes()).tobytes()


def test_jpegli_output_is_rated_at_its_own_quality(tmp_path: Path) -> None:
    rgb = np.asarray(kodak())
    made = bytes(pyjpegli.encode(rgb.tobytes(), rgb.shape[1], rgb.shape[0], 75))
    # Its tables are finer than libjpeg's at 75, which alone would rate it higher.
    assert (estimate_quality(made) or 0) > 75
    assert jpeg.source_quality(made) == 75
    source = tmp_path / "jpegli.jpg"
    source.write_bytes(made)
    # A re-run at the quality it was made at is lossless (no generation loss) ...
    result = encode(source, 75, 5)
    assert result.mode == "lossless (source q=75)" and result.data == made
    # ... below it, it is re-encoded.
    assert encode(source, 74, 5).mode == "jpegli+pass q=74"


def test_libjpeg_source_is_rated_by_its_tables(tmp_path: Path) -> None:
    source = make_jpeg(tmp_path, quality=80)
    assert jpeg.source_quality(source.read_bytes()) == 80
    assert encode(source, 80, 1).mode == "lossless (source q=80)"
    assert encode(source, 79, 1).mode == "jpegli q=79"


def test_source_segments_carry_icc_only_by_default() -> None:
    app0 = b"\xff\xe0\x00\x07JFIF\x00"
    icc = b"\xff\xe2\x00\x10ICC_PROFILE\x00\x01\x01"
    other_app2 = b"\xff\xe2\x00\x06MPF\x00"
    adobe = b"\xff\xee\x00\x07Adobe"
    comment = b"\xff\xfe\x00\x04hi"
    source = b"\xff\xd8" + app0 + icc + other_app2 + adobe + comment + b"\xff\xda\x00\x02"
    assert jpegli.source_segments(source, keep_all=False) == [icc]
    kept = jpegli.source_segments(source, keep_all=True)
    assert kept == [app0, icc, other_app2, comment]
    # The source's JFIF header is reused; without one a default JFIF header is written.
    assert jpegli.insert_segments(b"\xff\xd8REST", kept) == b"\xff\xd8" + b"".join(kept) + b"REST"
    assert jpegli.insert_segments(b"\xff\xd8REST", [icc]) == (
        b"\xff\xd8" + jpegli.DEFAULT_JFIF + icc + b"REST"
    )
