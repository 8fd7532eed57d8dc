"""APNG validation: valid animations pass with their frame count, each damage is named."""

from __future__ import annotations

import re
import struct
import tracemalloc
import zlib
from pathlib import Path

import pytest
from pixpress_server.errors import InvalidInput
from pixpress_server.processing import apng, pipeline
from pixpress_server.processing.model import CompressOptions, ImageFormat, ImageHeader, Limits

from tests.conftest import FIXTURES_DIR
from tests.unit.apng_samples import (
    DAMAGES,
    WIDTH,
    Damage,
    build,
    chunks,
    encode_chunk,
    index_of,
    make_apng,
)

LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)
HEADER = ImageHeader(ImageFormat.PNG, WIDTH, 64, frames=1, bands=3)
PNGSUITE = (
    Path(__file__).resolve().parents[3] / "shared" / "corpus" / "png-conformance" / "pngsuite"
)


@pytest.fixture(scope="module")
def sample() -> bytes:
    return make_apng()


@pytest.mark.parametrize(
    ("mode", "default_image"),
    [
        ("RGB", False),
        ("RGB", True),
        ("RGBA", False),
        ("L", False),
        ("LA", True),
        ("P", False),
        ("I;16", False),
        ("1", True),
    ],
)
def test_valid_apngs_pass_with_their_frame_count(mode: str, default_image: bool) -> None:
    data = make_apng(mode=mode, default_image=default_image)
    assert apng.is_apng(data)
    assert apng.check(data, HEADER, LIMITS).frames == 4


def test_multi_chunk_frames_pass() -> None:
    data = make_apng(frames=3, size=(700, 480))
    kinds = [kind for kind, _ in chunks(data)]
    assert kinds.count(b"IDAT") > 1 and kinds.count(b"fdAT") > 2  # streams split over chunks
    assert apng.check(data, HEADER, LIMITS).frames == 3


def test_sub_region_frames_pass() -> None:
    """A delta frame: a 20x10 patch at (76, 54), blended over the previous frame."""
    parts = chunks(make_apng(frames=1))
    data = _two_frames_with_patch(zlib.decompress(parts[index_of(parts, b"IDAT")][1]))
    assert apng.check(data, HEADER, LIMITS).frames == 2


def _two_frames_with_patch(rows: bytes) -> bytes:
    row = 1 + 3 * WIDTH
    patch = b"".join(b"\x00" + rows[y * row + 1 + 90 : y * row + 1 + 150] for y in range(10))
    ihdr = struct.pack(">IIBBBBB", WIDTH, 64, 8, 2, 0, 0, 0)
    return build(
        [
            (b"IHDR", ihdr),
            (b"acTL", struct.pack(">II", 2, 3)),
            (b"fcTL", struct.pack(">IIIIIHHBB", 0, WIDTH, 64, 0, 0, 1, 10, 0, 0)),
            (b"IDAT", zlib.compress(rows)),
            (b"fcTL", struct.pack(">IIIIIHHBB", 1, 20, 10, 76, 54, 1, 10, 2, 1)),
            (b"fdAT", struct.pack(">I", 2) + zlib.compress(patch)),
            (b"IEND", b""),
        ]
    )


@pytest.mark.parametrize("damage", DAMAGES, ids=[damage.name for damage in DAMAGES])
def test_each_damage_is_refused_by_name(sample: bytes, damage: Damage) -> None:
    damaged = damage.damage(sample)
    assert damaged != sample
    with pytest.raises(InvalidInput) as raised:
        apng.check(damaged, HEADER, LIMITS)
    assert re.fullmatch(damage.message, raised.value.public_message), raised.value.public_message


def test_the_damage_table_covers_every_kind_once() -> None:
    names = [damage.name for damage in DAMAGES]
    assert len(names) == len(set(names)) >= 20


def test_max_frames_is_checked_before_any_frame_is_inflated(sample: bytes) -> None:
    # Frame 3's stream is broken too: the limit must answer first.
    damaged = next(d for d in DAMAGES if d.name == "zlib-checksum").damage(sample)
    with pytest.raises(InvalidInput, match=r"image has 4 frames, above the limit of 3 frames"):
        apng.check(damaged, HEADER, Limits(max_pixels=10**9, max_frames=3))
    assert apng.check(sample, HEADER, Limits(max_pixels=10**9, max_frames=4)).frames == 4


def test_still_pngs_are_left_to_libvips() -> None:
    still = (FIXTURES_DIR / "png" / "kodim23.png").read_bytes()
    assert not apng.is_apng(still)
    assert apng.check(still, HEADER, LIMITS) is HEADER
    # acTL after the first IDAT: not an animation by the APNG rules, a still PNG.
    parts = chunks(still)
    i = index_of(parts, b"IEND")
    moved = build([*parts[:i], (b"acTL", struct.pack(">II", 2, 0)), *parts[i:]])
    assert not apng.is_apng(moved)


def test_corrupt_pngsuite_files_are_not_taken_for_apngs() -> None:
    """The x*.png stay libvips' to refuse, with the same message as before."""
    for path in sorted((FIXTURES_DIR / "pngsuite").glob("x*.png")):
        assert not apng.is_apng(path.read_bytes()), path.name


def test_a_broken_walk_before_idat_still_counts_as_apng(sample: bytes) -> None:
    """A bad length ahead of acTL must not let a damaged animation pass as a still."""
    damaged = sample[:8] + struct.pack(">I", 14) + sample[12:]  # IHDR says 14 bytes
    assert apng.is_apng(damaged)
    with pytest.raises(InvalidInput, match=r"corrupt apng: "):
        apng.check(damaged, HEADER, LIMITS)


def _as_single_frame_apng(data: bytes) -> bytes:
    """acTL and a full-canvas fcTL put right after IHDR; every original byte kept (CRCs too)."""
    ihdr_end = 8 + 12 + int.from_bytes(data[8:12], "big")
    width, height = struct.unpack(">II", data[16:24])
    fctl = struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0)
    control = encode_chunk(b"acTL", struct.pack(">II", 1, 0)) + encode_chunk(b"fcTL", fctl)
    return data[:ihdr_end] + control + data[ihdr_end:]


def pngsuite_valid() -> list[Path]:
    source = PNGSUITE if PNGSUITE.is_dir() else FIXTURES_DIR / "pngsuite"
    return sorted(p for p in source.glob("*.png") if not p.name.startswith("x"))


def test_every_valid_pngsuite_encoding_passes_as_a_one_frame_apng() -> None:
    """Real encoders' data in every bit depth, colour type and Adam7 interlacing."""
    paths = pngsuite_valid()
    for path in paths:
        data = _as_single_frame_apng(path.read_bytes())
        assert apng.check(data, HEADER, LIMITS).frames == 1, path.name
    assert len(paths) >= 9
    if PNGSUITE.is_dir():
        assert len(paths) == 161


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("xc1n0g08.png", "IHDR bit depth 8 invalid for colour type 1"),
        ("xc9n2c08.png", "IHDR bit depth 8 invalid for colour type 9"),
        ("xcsn0g01.png", r"IDAT chunk at byte \d+ fails its CRC"),
        ("xd0n2c08.png", "IHDR bit depth 0 invalid for colour type 2"),
        ("xd3n2c08.png", "IHDR bit depth 3 invalid for colour type 2"),
        ("xd9n2c08.png", "IHDR bit depth 99 invalid for colour type 2"),
        ("xdtn0g01.png", "no IDAT chunk"),
        ("xhdn0g08.png", "IHDR chunk at byte 8 fails its CRC"),
    ],
)
def test_corrupt_pngsuite_files_made_into_apngs_are_refused(name: str, message: str) -> None:
    """PngSuite's own damage (the x*.png with a PNG signature), now inside an animation."""
    data = _as_single_frame_apng((FIXTURES_DIR / "pngsuite" / name).read_bytes())
    with pytest.raises(InvalidInput) as raised:
        apng.check(data, HEADER, LIMITS)
    assert re.fullmatch(f"corrupt apng: {message}", raised.value.public_message)


def test_inflating_large_frames_holds_little_memory() -> None:
    """Two 3000x3000 RGB frames (27 MB of rows each) checked in about a megabyte."""
    width = height = 3000
    rows = (b"\x00" + bytes(3 * width)) * height
    stream = zlib.compress(rows, 9)
    del rows
    fctl = struct.pack(">IIIIIHHBB", 0, width, height, 0, 0, 1, 10, 0, 0)
    data = build(
        [
            (b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)),
            (b"acTL", struct.pack(">II", 2, 0)),
            (b"fcTL", fctl),
            (b"IDAT", stream),
            (b"fcTL", struct.pack(">I", 1) + fctl[4:]),
            (b"fdAT", struct.pack(">I", 2) + stream),
            (b"IEND", b""),
        ]
    )
    header = ImageHeader(ImageFormat.PNG, width, height, frames=1, bands=3)
    tracemalloc.start()
    try:
        assert apng.check(data, header, LIMITS).frames == 2
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 4 * 1024 * 1024, peak


@pytest.fixture(scope="module")
def _initialised() -> None:
    pipeline.initialise()


@pytest.mark.usefixtures("_initialised")
def test_pipeline_keeps_a_valid_apng_and_refuses_a_damaged_one(
    tmp_path: Path, sample: bytes
) -> None:
    source = tmp_path / "valid.png"
    source.write_bytes(sample)
    outcome = pipeline.compress(source, tmp_path / "out.png", CompressOptions(80), LIMITS)
    assert outcome.kept_original and outcome.kept_original_reason == "apng animation kept unchanged"
    assert outcome.header.frames == 4

    damaged = tmp_path / "damaged.png"
    damaged.write_bytes(next(d for d in DAMAGES if d.name == "sequence-skipped").damage(sample))
    with pytest.raises(InvalidInput, match=r"^corrupt apng: fdAT sequence number 5, expected 4$"):
        pipeline.compress(damaged, tmp_path / "out2.png", CompressOptions(80), LIMITS)
    with pytest.raises(InvalidInput, match=r"above the limit of 2 frames \(--max-frames\)"):
        pipeline.compress(source, tmp_path / "out3.png", CompressOptions(80), Limits(10**9, 2))
