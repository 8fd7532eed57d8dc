"""Every format through the real service: same format, size and frames, decodable, never larger."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
import pyvips
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)
from pixpress import Client
from pixpress_server.processing.formats import sniff

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PHOTO = FIXTURES / "png" / "kodim23.png"


def generated(tmp_path: Path, name: str) -> Path:
    """Stills the corpus lacks, made from a real photo: TIFF and lossy/lossless WebP."""
    photo = pyvips.Image.new_from_file(str(PHOTO))
    target = tmp_path / name
    if name == "photo.tif":
        photo.tiffsave(str(target), compression="deflate")
    elif name == "lossy.webp":
        photo.webpsave(str(target), Q=92)
    else:
        photo.webpsave(str(target), lossless=True)
    return target


CASES = [
    ("jpeg", "jpeg/Landscape_1.jpg"),
    ("png", "png/kodim03.png"),
    ("png", "pngsuite/basn6a16.png"),
    ("gif", "gif/animation.gif"),
    ("gif", "gif/high-color.gif"),
    ("webp", "webp/random_lossy.webp"),
    ("webp", "webp/random_lossless.webp"),
    ("webp", "generated:lossy.webp"),
    ("webp", "generated:lossless.webp"),
    ("avif", "avif/hato.profile0.8bpc.yuv420.avif"),
    ("tiff", "generated:photo.tif"),
]


def load_frames(data: bytes, image_format: str) -> pyvips.Image:
    animated = image_format in {"gif", "webp", "tiff"}
    return pyvips.Image.new_from_buffer(data, "", **({"n": -1} if animated else {}))


@pytest.mark.parametrize(("expected", "name"), CASES, ids=[c[1] for c in CASES])
@pytest.mark.parametrize("quality", [75, 100])
def test_format_is_kept(
    address: str, tmp_path: Path, expected: str, name: str, quality: int
) -> None:
    source = (
        generated(tmp_path, name.split(":")[1])
        if name.startswith("generated:")
        else FIXTURES / name
    )
    original = source.read_bytes()
    with Client(address) as client:
        result = client.compress(source, quality=quality)
    assert result.format == expected
    assert sniff(result.data[:64]) == expected
    assert len(result.data) <= len(original)
    assert result.kept_original == (result.data == original)
    before, after = load_frames(original, expected), load_frames(result.data, expected)
    assert (after.width, after.height) == (before.width, before.height)
    assert after.get_n_pages() == before.get_n_pages() == result.frames
    assert after.avg() >= 0  # decodes every pixel


def test_reflection_lists_and_describes_the_service(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {"pixpress.v1.CompressService", "grpc.health.v1.Health"} <= services
        descriptor = database.FindFileContainingSymbol("pixpress.v1.CompressService")
        assert descriptor.package == "pixpress.v1"
