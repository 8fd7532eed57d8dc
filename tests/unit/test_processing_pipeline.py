"""pipeline.compress on real images: same format, same geometry, never larger, quality policy."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from pixpress_server.errors import InvalidInput, Unencodable
from pixpress_server.processing import pipeline
from pixpress_server.processing.encoders import heif, webp
from pixpress_server.processing.formats import SNIFF_BYTES, sniff
from pixpress_server.processing.model import (
    MAX_EFFORT,
    MIN_EFFORT,
    CompressOptions,
    CompressOutcome,
    ImageFormat,
    Limits,
)

from tests.conftest import FIXTURES_DIR, copy_fixture

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
GPS_IFD = 0x8825
ORIENTATION = 0x0112


@pytest.fixture(scope="module", autouse=True)
def _initialised() -> None:
    pipeline.initialise()


def run(source: Path, quality: int, *, keep_metadata: bool = False) -> tuple[CompressOutcome, Path]:
    destination = source.with_name(f"out-q{quality}-{keep_metadata}-{source.name}")
    outcome = pipeline.compress(
        source, destination, CompressOptions(quality=quality, keep_metadata=keep_metadata), LIMITS
    )
    if outcome.kept_original:
        assert not destination.exists()
        return outcome, source
    return outcome, destination


def kodak(name: str = "kodim23.png") -> Image.Image:
    with Image.open(FIXTURES_DIR / "png" / name) as image:
        return image.convert("RGB")


# Stills that do not exist in the corpus are made from a real photo into tmp_path.
def make_tiff(tmp: Path, compression: str) -> Path:
    path = tmp / f"photo-{compression}.tif"
    kodak().save(path, compression=compression)
    return path


def make_webp(tmp: Path, *, lossless: bool) -> Path:
    path = tmp / f"photo-{'lossless' if lossless else 'lossy'}.webp"
    kodak().save(path, lossless=lossless, quality=98 if not lossless else 0, method=0)
    return path


def make_animated_gif(tmp: Path) -> Path:
    photo = kodak()
    frames = [photo.crop((x, 0, x + 256, 256)) for x in (0, 128, 256, 384)]
    path = tmp / "animated.gif"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=[80, 90, 100, 110], loop=3
    )
    return path


def make_jpeg(tmp: Path, quality: int = 98) -> Path:
    path = tmp / f"photo-q{quality}.jpg"
    kodak().save(path, quality=quality)
    return path


def make_avif(tmp: Path) -> Path:
    import pyvips

    path = tmp / "photo.avif"
    pyvips.Image.new_from_file(str(FIXTURES_DIR / "png" / "kodim23.png")).heifsave(
        str(path), Q=98, compression="av1", effort=0
    )
    return path


Source = Callable[[Path], Path]


def fixture(name: str) -> Source:
    return lambda tmp: copy_fixture(tmp, name)


MATRIX: dict[str, Source] = {
    "jpeg-photo": fixture("jpeg/Landscape_1.jpg"),
    "jpeg-q98": make_jpeg,
    "png-kodak": fixture("png/kodim03.png"),
    "png-rgba": fixture("pngsuite/basn6a08.png"),
    "png-16bit": fixture("pngsuite/basn6a16.png"),
    "png-palette": fixture("pngsuite/basn3p08.png"),
    "png-grey16": fixture("pngsuite/basn0g16.png"),
    "gif-animated": make_animated_gif,
    "gif-suite-animation": fixture("gif/animation.gif"),
    "gif-high-color": fixture("gif/high-color.gif"),
    "gif-transparent": fixture("gif/transparent.gif"),
    "webp-animated-lossy": fixture("webp/random_lossy.webp"),
    "webp-animated-lossless": fixture("webp/random_lossless.webp"),
    "webp-still-lossy": lambda tmp: make_webp(tmp, lossless=False),
    "webp-still-lossless": lambda tmp: make_webp(tmp, lossless=True),
    "avif-photo": fixture("avif/hato.profile0.8bpc.yuv420.avif"),
    "avif-icc": fixture("avif/red-at-12-oclock-with-color-profile-8bpc.avif"),
    "avif-generated": make_avif,
    "avif-sequence": fixture("avif/star-8bpc.avifs"),
    "tiff-deflate": lambda tmp: make_tiff(tmp, "tiff_adobe_deflate"),
    "tiff-lzw": lambda tmp: make_tiff(tmp, "tiff_lzw"),
    "tiff-jpeg": lambda tmp: make_tiff(tmp, "jpeg"),
    "tiff-none": lambda tmp: make_tiff(tmp, "raw"),
}


@pytest.mark.parametrize("quality", [40, 100])
@pytest.mark.parametrize("case", sorted(MATRIX))
def test_format_matrix(tmp_path: Path, case: str, quality: int) -> None:
    source = MATRIX[case](tmp_path)
    before = pipeline.probe(source, LIMITS)
    outcome, output = run(source, quality)
    assert outcome.header == before
    assert outcome.output_size == output.stat().st_size
    assert outcome.output_size <= outcome.input_size
    assert sniff(output.read_bytes()[:SNIFF_BYTES]) is before.format
    after = pipeline.probe(output, LIMITS)
    assert (after.width, after.height, after.frames) == (before.width, before.height, before.frames)
    assert [stage.name for stage in outcome.stages][:2] == ["decode", "encode"]
    if not outcome.kept_original:
        assert outcome.output_size < outcome.input_size
        with Image.open(output) as decoded:  # decodable by an independent decoder
            decoded.load()


def test_kept_original_reasons(tmp_path: Path) -> None:
    outcome, _ = run(copy_fixture(tmp_path, "avif/star-8bpc.avifs"), 50)
    assert outcome.kept_original_reason == "avif sequence kept unchanged"
    outcome, _ = run(copy_fixture(tmp_path, "webp/random_lossy.webp"), 100)
    assert outcome.kept_original_reason == "lossy source at quality 100"


MONOTONIC: dict[str, Source] = {"jpeg": make_jpeg, "webp": lambda t: make_webp(t, lossless=False)}
MONOTONIC["avif"] = make_avif


@pytest.mark.parametrize("case", sorted(MONOTONIC))
def test_quality_is_monotonic_in_bytes(tmp_path: Path, case: str) -> None:
    source = MONOTONIC[case](tmp_path)
    sizes = []
    for quality in (50, 80, 95):
        outcome, _ = run(source, quality)
        assert not outcome.kept_original, outcome.kept_original_reason
        sizes.append(outcome.output_size)
    assert sizes[0] < sizes[1] < sizes[2]


EFFORT_SOURCES: dict[str, Source] = {
    "webp-lossy": lambda t: make_webp(t, lossless=False),
    "webp-lossless": lambda t: make_webp(t, lossless=True),
    "avif": make_avif,
}


@pytest.mark.parametrize("case", sorted(EFFORT_SOURCES))
def test_effort_changes_the_webp_and_avif_encode(tmp_path: Path, case: str) -> None:
    source = EFFORT_SOURCES[case](tmp_path)
    quality = 100 if case == "webp-lossless" else 60
    outputs = []
    for effort in (1, 5):
        destination = tmp_path / f"effort-{effort}"
        options = CompressOptions(quality=quality, effort=effort)
        outcome = pipeline.compress(source, destination, options, LIMITS)
        assert not outcome.kept_original and outcome.effort == effort
        outputs.append(destination)
    assert outputs[0].read_bytes() != outputs[1].read_bytes()
    if case == "webp-lossless":
        for output in outputs:
            assert np.array_equal(pixels(output)[0], pixels(source)[0])


@pytest.mark.parametrize(
    "table", [webp.LOSSY_EFFORT, webp.LOSSLESS_EFFORT, heif.HEIF_EFFORT], ids=["webp", "ll", "avif"]
)
def test_effort_tables_cover_every_effort_and_never_lower(table: tuple[int, ...]) -> None:
    assert len(table) == MAX_EFFORT - MIN_EFFORT + 1
    assert list(table) == sorted(table) and table[0] < table[-1]


def pixels(path: Path) -> list[np.ndarray]:
    with Image.open(path) as image:
        frames = []
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frames.append(np.asarray(image.convert("RGBA")))
        return frames


def pixels_16(path: Path) -> np.ndarray:
    import pyvips

    image = pyvips.Image.new_from_file(str(path))
    return np.asarray(image.numpy())


LOSSLESS: dict[str, Source] = {
    "png-kodak": fixture("png/kodim03.png"),
    "png-palette": fixture("pngsuite/basn3p08.png"),
    "png-trns": fixture("pngsuite/tbbn3p08.png"),
    "webp-still-lossless": lambda tmp: make_webp(tmp, lossless=True),
    "webp-animated-lossless": fixture("webp/random_lossless.webp"),
    "gif-animated": make_animated_gif,
    "gif-high-color": fixture("gif/high-color.gif"),
    "jpeg-photo": fixture("jpeg/Landscape_1.jpg"),
}


@pytest.mark.parametrize("case", sorted(LOSSLESS))
def test_quality_100_is_lossless(tmp_path: Path, case: str) -> None:
    source = LOSSLESS[case](tmp_path)
    outcome, output = run(source, 100)
    expected, actual = pixels(source), pixels(output)
    assert len(expected) == len(actual)
    for a, b in zip(expected, actual, strict=True):
        assert np.array_equal(a, b)
    if case in ("png-kodak", "jpeg-photo", "webp-still-lossless"):
        assert not outcome.kept_original  # these actually shrink losslessly


@pytest.mark.parametrize("name", ["pngsuite/basn6a16.png", "pngsuite/basn0g16.png"])
def test_quality_100_keeps_16_bit_png(tmp_path: Path, name: str) -> None:
    source = copy_fixture(tmp_path, name)
    _, output = run(source, 100)
    assert np.array_equal(pixels_16(source), pixels_16(output))


def test_jpeg_at_or_above_source_quality_is_lossless(tmp_path: Path) -> None:
    source = copy_fixture(tmp_path, "jpeg/Landscape_1.jpg")  # IJG quality 73
    outcome, output = run(source, 90)
    assert outcome.output_size < outcome.input_size
    assert np.array_equal(pixels(source)[0], pixels(output)[0])


def icc_profile() -> bytes:
    import pyvips

    path = FIXTURES_DIR / "avif" / "red-at-12-oclock-with-color-profile-8bpc.avif"
    return bytes(pyvips.Image.new_from_file(str(path)).get("icc-profile-data"))


def icc_of(path: Path) -> bytes | None:
    with Image.open(path) as image:
        return image.info.get("icc_profile")


@pytest.mark.parametrize("quality", [50, 100])
@pytest.mark.parametrize("extension", ["jpg", "png", "webp", "tif"])
def test_icc_profile_is_kept(tmp_path: Path, extension: str, quality: int) -> None:
    profile = icc_profile()
    source = tmp_path / f"icc.{extension}"
    kodak().save(source, icc_profile=profile, quality=95)
    _, output = run(source, quality)
    assert icc_of(output) == profile


def test_avif_icc_profile_is_kept(tmp_path: Path) -> None:
    import pyvips

    source = copy_fixture(tmp_path, "avif/red-at-12-oclock-with-color-profile-8bpc.avif")
    outcome, output = run(source, 30)
    assert not outcome.kept_original
    assert bytes(pyvips.Image.new_from_file(str(output)).get("icc-profile-data")) == icc_profile()


def with_gps(tmp_path: Path) -> Path:
    source = FIXTURES_DIR / "jpeg" / "Landscape_6.jpg"
    target = tmp_path / "gps.jpg"
    with Image.open(source) as image:
        exif = image.getexif()
        exif.get_ifd(GPS_IFD).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})
        image.save(target, quality="keep", exif=exif.tobytes(), icc_profile=icc_profile())
    return target


def exif_of(path: Path) -> Image.Exif:
    with Image.open(path) as image:
        return image.getexif()


@pytest.mark.parametrize("quality", [40, 100])
def test_gps_stripped_by_default_orientation_and_icc_kept(tmp_path: Path, quality: int) -> None:
    source = with_gps(tmp_path)
    assert exif_of(source).get_ifd(GPS_IFD)
    outcome, output = run(source, quality)
    assert not outcome.kept_original
    exif = exif_of(output)
    assert not exif.get_ifd(GPS_IFD)
    assert dict(exif) == {ORIENTATION: 6}
    assert icc_of(output) == icc_profile()


@pytest.mark.parametrize("quality", [40, 100])
def test_keep_metadata_keeps_gps(tmp_path: Path, quality: int) -> None:
    source = with_gps(tmp_path)
    _, output = run(source, quality, keep_metadata=True)
    exif = exif_of(output)
    assert exif.get_ifd(GPS_IFD)[1] == "N"
    assert exif[ORIENTATION] == 6


def displayed(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"), dtype=np.int16)


@pytest.mark.parametrize(("quality", "tolerance"), [(40, 6.0), (100, 0.0)])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_displays_the_same(
    tmp_path: Path, orientation: int, quality: int, tolerance: float
) -> None:
    source = copy_fixture(tmp_path, f"jpeg/Landscape_{orientation}.jpg")
    _, output = run(source, quality)
    before, after = displayed(source), displayed(output)
    assert before.shape == after.shape
    assert float(np.abs(before - after).mean()) <= tolerance


CORRUPT_PNGS = sorted(path.name for path in (FIXTURES_DIR / "pngsuite").glob("x*.png"))


def test_all_14_corrupt_pngsuite_files_present() -> None:
    assert len(CORRUPT_PNGS) == 14


@pytest.mark.parametrize("name", CORRUPT_PNGS)
def test_corrupt_pngsuite_is_invalid_input(tmp_path: Path, name: str) -> None:
    source = copy_fixture(tmp_path, f"pngsuite/{name}")
    with pytest.raises(InvalidInput):
        run(source, 80)


@pytest.mark.parametrize("name", ["gif/no-data.gif", "gif/invalid-code.gif"])
def test_invalid_gif_is_invalid_input(tmp_path: Path, name: str) -> None:
    with pytest.raises(InvalidInput):
        run(copy_fixture(tmp_path, name), 80)


@pytest.mark.parametrize("name", ["jpeg/Landscape_1.jpg", "png/kodim03.png"])
@pytest.mark.parametrize("quality", [50, 100])
def test_truncated_is_invalid_input(tmp_path: Path, name: str, quality: int) -> None:
    data = (FIXTURES_DIR / name).read_bytes()
    source = tmp_path / Path(name).name
    source.write_bytes(data[: len(data) // 2])
    with pytest.raises(InvalidInput, match=r"^corrupt or truncated (jpeg|png)$") as caught:
        run(source, quality)
    assert caught.value.detail  # libvips' own words stay in the detail


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def test_huge_png_header_rejected_before_decoding(tmp_path: Path) -> None:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)
    source = tmp_path / "huge.png"
    source.write_bytes(
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )  # fmt: skip
    expected = (
        "image is 100000x100000 = 10000000000 pixels, "
        "above the limit of 268402689 pixels (--max-pixels)"
    )
    with pytest.raises(InvalidInput) as caught:
        pipeline.probe(source, LIMITS)
    assert caught.value.public_message == expected
    with pytest.raises(InvalidInput, match="--max-pixels"):
        run(source, 80)


def test_frame_limit(tmp_path: Path) -> None:
    source = make_animated_gif(tmp_path)
    with pytest.raises(
        InvalidInput, match=r"4 frames, above the limit of 2 frames \(--max-frames\)"
    ):
        pipeline.probe(source, Limits(max_pixels=10**9, max_frames=2))


def test_heic_is_unencodable(tmp_path: Path) -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    source = tmp_path / "photo.heic"
    heif = pillow_heif.from_pillow(kodak())
    heif.save(source, quality=90)
    header = pipeline.probe(source, LIMITS)
    assert header.format is ImageFormat.HEIF
    with pytest.raises(Unencodable, match="HEIC"):
        run(source, 80)


def test_unsupported_format_named(tmp_path: Path) -> None:
    source = tmp_path / "photo.bmp"
    kodak().save(source)
    with pytest.raises(InvalidInput, match=r"^unsupported format: bmp$"):
        run(source, 80)


def test_stages_report_bytes_and_time(tmp_path: Path) -> None:
    outcome, _ = run(copy_fixture(tmp_path, "png/kodim03.png"), 80)  # palette, deflate inside
    names = [stage.name for stage in outcome.stages]
    assert names == ["decode", "encode"]
    assert outcome.stages[-1].output_bytes == outcome.output_size
    assert all(stage.milliseconds >= 0 for stage in outcome.stages)


def test_written_bytes_are_the_reported_ones(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    kodak().save(buffer, "PNG")
    source = tmp_path / "photo.png"
    source.write_bytes(buffer.getvalue())
    outcome, output = run(source, 60)
    assert output.stat().st_size == outcome.output_size < len(buffer.getvalue())
