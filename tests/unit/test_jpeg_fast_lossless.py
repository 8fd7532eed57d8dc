"""JPEG at the fast efforts when the source is at or below the quality asked: its own scans,
metadata stripped per policy, no mozjpeg pass; plus the cheaper source-quality reading."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyjpegli
import pytest
import pyvips
from PIL import Image
from pixpress_server.errors import InvalidInput
from pixpress_server.processing import jpegli, pipeline, vips
from pixpress_server.processing.encoders import jpeg
from pixpress_server.processing.encoders.base import Encoded, EncodeRequest
from pixpress_server.processing.jpeg_quality import estimate_quality, read_header, scaled_table
from pixpress_server.processing.jpeg_strip import strip_metadata
from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import CompressOptions, ImageFormat, Limits

from tests.conftest import FIXTURES_DIR

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
ORIENTATION, GPS_IFD, MAKE = 0x0112, 0x8825, 0x010F
LANDSCAPE = FIXTURES_DIR / "jpeg" / "Landscape_1.jpg"  # a camera JPEG, IJG quality 73


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def kodak() -> Image.Image:
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        return image.convert("RGB")


def pixels(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def camera_like(tmp: Path, *, orientation: int = 6, progressive: bool = False) -> Path:
    """A q 80 JPEG with EXIF (orientation, maker, GPS), a comment, IPTC (APP13) and bytes
    after EOI (where phones append a preview), as cameras write them."""
    exif = Image.Exif()
    exif.update({ORIENTATION: orientation, MAKE: "camera maker"})
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0)})
    buffer = io.BytesIO()
    kodak().save(
        buffer,
        "JPEG",
        quality=80,
        exif=exif.tobytes(),
        comment=b"a comment",
        progressive=progressive,
    )
    data = buffer.getvalue()
    iptc = b"\xff\xed\x00\x10Photoshop 3.0\x00"
    path = tmp / "camera.jpg"
    path.write_bytes(data[:2] + iptc + data[2:] + b"preview image")
    return path


def compress(source: Path, quality: int, effort: int, **options: bool) -> tuple[bool, bytes]:
    destination = source.with_name(f"out-{quality}-{effort}.jpg")
    outcome = pipeline.compress(
        source, destination, CompressOptions(quality=quality, effort=effort, **options), LIMITS
    )
    kept = outcome.kept_original
    return kept, source.read_bytes() if kept else destination.read_bytes()


def encode(source: Path, quality: int, effort: int) -> Encoded:
    image = vips.load(source, ImageFormat.JPEG)
    request = EncodeRequest(image, source.read_bytes(), quality, MetadataPolicy(False), effort)
    result = jpeg.encode(request)
    assert isinstance(result, Encoded)
    return result


@pytest.mark.parametrize("effort", [1, 2])
@pytest.mark.parametrize("progressive", [False, True])
def test_fast_effort_sends_the_source_scans_without_its_metadata(
    tmp_path: Path, effort: int, progressive: bool
) -> None:
    source = camera_like(tmp_path, progressive=progressive)
    result = encode(source, 85, effort)
    assert (result.mode, result.postpass) == ("lossless (source q=80)", False)
    kept, output = compress(source, 85, effort)
    assert not kept and len(output) < source.stat().st_size
    assert np.array_equal(pixels(output), pixels(source.read_bytes()))
    with Image.open(io.BytesIO(output)) as image:
        assert dict(image.getexif()) == {ORIENTATION: 6}  # no maker, no GPS
        assert "comment" not in image.info
    assert b"Photoshop" not in output and output.endswith(b"\xff\xd9")


def test_fast_effort_keeps_icc_and_the_source_jfif(tmp_path: Path) -> None:
    path = FIXTURES_DIR / "avif" / "red-at-12-oclock-with-color-profile-8bpc.avif"
    profile = bytes(vips.load(path, ImageFormat.AVIF).image.get("icc-profile-data"))
    source = tmp_path / "icc.jpg"
    kodak().save(source, quality=70, icc_profile=profile, dpi=(300, 300))
    _, output = compress(source, 90, 1)
    with Image.open(io.BytesIO(output)) as image:
        assert image.info["icc_profile"] == profile
        assert image.info["dpi"] == (300, 300)


def test_fast_effort_with_keep_metadata_keeps_the_original(tmp_path: Path) -> None:
    source = camera_like(tmp_path)
    kept, output = compress(source, 85, 1, keep_metadata=True)
    assert kept and output == source.read_bytes()


def test_the_pass_still_runs_at_quality_100_and_from_effort_3(tmp_path: Path) -> None:
    source = camera_like(tmp_path)
    assert encode(source, 100, 1).postpass
    assert encode(source, 85, 3).postpass
    fast, passed = compress(source, 85, 1)[1], compress(source, 85, 3)[1]
    assert len(passed) < len(fast)  # the pass is what the fast efforts give up
    assert np.array_equal(pixels(fast), pixels(passed))


def test_camera_jpeg_below_the_quality_asked_loses_no_pixel(tmp_path: Path) -> None:
    source = tmp_path / LANDSCAPE.name
    source.write_bytes(LANDSCAPE.read_bytes())
    kept, output = compress(source, 75, 1)
    assert not kept and len(output) < source.stat().st_size
    assert np.array_equal(pixels(output), pixels(source.read_bytes()))


@pytest.mark.parametrize("fraction", [0.3, 0.6, 0.95])
def test_truncated_source_is_invalid_on_the_fast_path(tmp_path: Path, fraction: float) -> None:
    data = LANDSCAPE.read_bytes()
    source = tmp_path / "truncated.jpg"
    source.write_bytes(data[: int(len(data) * fraction)])
    with pytest.raises(InvalidInput, match=r"^corrupt or truncated jpeg$"):
        compress(source, 90, 1)


def test_shrunk_check_fails_where_a_full_decode_fails() -> None:
    data = LANDSCAPE.read_bytes()
    rng = np.random.default_rng(7)
    start = data.index(b"\xff\xda")
    failed = 0
    for trial in range(40):
        damaged = bytearray(data)
        if trial % 2:
            damaged = damaged[: int(rng.integers(start + 100, len(data) - 2))]
        else:
            for index in rng.integers(start + 20, len(data) - 2, size=4):
                damaged[int(index)] = int(rng.integers(0, 256))
        try:
            full = pyvips.Image.jpegload_buffer(bytes(damaged), fail_on="error").min()
        except pyvips.Error:
            full = None
        if full is None:
            failed += 1
            with pytest.raises(InvalidInput):
                vips.check_jpeg_decodes(bytes(damaged), 1800, 1200)
        else:
            vips.check_jpeg_decodes(bytes(damaged), 1800, 1200)
    assert failed >= 20  # every truncation, at least


def test_tiny_jpegs_decode_whole() -> None:
    buffer = io.BytesIO()
    Image.new("L", (3, 3), 128).save(buffer, "JPEG", quality=90)
    vips.check_jpeg_decodes(buffer.getvalue(), 3, 3)


def test_strip_keeps_restart_markers_and_every_scan() -> None:
    rgb = np.asarray(kodak())
    image = pyvips.Image.new_from_memory(rgb.tobytes(), rgb.shape[1], rgb.shape[0], 3, "uchar")
    for options in ({"restart_interval": 1}, {"interlace": True}):
        data = bytes(image.jpegsave_buffer(Q=80, keep="none", **options))
        assert strip_metadata(data + b"trailing") == data  # nothing the policy drops
        assert (b"\xff\xd0" in data) == ("restart_interval" in options)


def test_strip_refuses_what_does_not_reach_eoi() -> None:
    data = LANDSCAPE.read_bytes()
    assert strip_metadata(data[: len(data) // 2]) is None
    assert strip_metadata(b"\xff\xd8\xff\xe1\x00") is None
    assert strip_metadata(b"not a jpeg") is None


def standard_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    """libjpeg's Annex K tables, as it writes them at quality 50 (scale 100%)."""
    buffer = io.BytesIO()
    kodak().resize((16, 16)).save(buffer, "JPEG", quality=50)
    header = read_header(buffer.getvalue())
    assert header is not None
    return header.tables[0], header.tables[1]


def reference_estimate(tables: dict[int, tuple[int, ...]]) -> int:
    """The IJG closest-table rule written out plainly (the loop estimate_quality replaced)."""
    luma, chroma = standard_tables()

    def distance(quality: int) -> float:
        scaled = (scaled_table(luma, quality), scaled_table(chroma, quality))
        return sum(
            abs(a - b) / b
            for table, standard in zip((tables[0], tables[1]), scaled, strict=True)
            for a, b in zip(table, standard, strict=True)
        )

    return min(range(1, 101), key=distance)


def test_estimate_matches_the_plain_rule_on_many_encoders() -> None:
    small = kodak().resize((64, 64))
    rgb = small.tobytes()
    image = pyvips.Image.new_from_memory(rgb, 64, 64, 3, "uchar")
    for quality in range(5, 101, 5):
        made = [bytes(pyjpegli.encode(rgb, 64, 64, quality))]
        made += [bytes(image.jpegsave_buffer(Q=quality, quant_table=t)) for t in (0, 3, 5)]
        for data in made:
            header = read_header(data)
            assert header is not None
            assert estimate_quality(data) == reference_estimate(header.tables)


@pytest.mark.parametrize("quality", [1, 30, 75, 99, 100])
def test_jpegli_output_is_recognised_at_its_quality(quality: int) -> None:
    rgb = kodak().resize((64, 64)).tobytes()
    header = read_header(bytes(pyjpegli.encode(rgb, 64, 64, quality)))
    assert header is not None
    assert jpegli.made_at(header) == quality


def test_libvips_chatter_stays_out_of_the_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO")
    vips.initialise(1)
    vips.check_jpeg_decodes(LANDSCAPE.read_bytes(), 1800, 1200)  # a libvips threadpool runs
    assert not [record for record in caplog.records if record.name.startswith("pyvips")]


def test_lossless_paths_say_the_pixels_are_the_sources(tmp_path: Path) -> None:
    """A target search scores these as identical instead of decoding and scoring them."""
    source = camera_like(tmp_path)
    assert encode(source, 85, 1).pixels_kept  # the stripped scans: bytes differ, pixels don't
    assert encode(source, 85, 3).pixels_kept
    assert not encode(source, 60, 1).pixels_kept  # a re-encode
