"""benchmarks.lossless_bench: the exact pixel check across colour type and depth, and inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import oxipng
import pyvips
from PIL import Image

from benchmarks.lossless_bench import png_inputs, same_pixels
from tests.conftest import FIXTURES_DIR


def test_same_pixels_across_lossless_reductions(tmp_path: Path) -> None:
    rgba = np.zeros((8, 8, 4), dtype=np.uint8)
    rgba[..., 0] = np.arange(64).reshape(8, 8)
    rgba[..., 3] = 255  # opaque: oxipng drops the alpha channel
    source = tmp_path / "opaque.png"
    Image.fromarray(rgba, "RGBA").save(source)
    reduced = tmp_path / "reduced.png"
    reduced.write_bytes(oxipng.optimize_from_memory(source.read_bytes(), level=2))
    with Image.open(reduced) as image:
        assert image.mode != "RGBA"
    assert same_pixels(source, reduced)

    rgba[3, 3, 3] = 254  # one alpha value off
    changed = tmp_path / "changed.png"
    Image.fromarray(rgba, "RGBA").save(changed)
    assert not same_pixels(source, changed)


def _save16(values: np.ndarray, path: Path) -> None:
    image = pyvips.Image.new_from_memory(values.tobytes(), 4, 4, 1, "ushort")
    image.copy(interpretation="grey16").pngsave(str(path))


def test_same_pixels_sees_16_bit_differences(tmp_path: Path) -> None:
    values = np.full((4, 4), 257 * 40, dtype=np.uint16)
    eight = tmp_path / "eight.png"
    Image.fromarray(np.full((4, 4), 40, dtype=np.uint8), "L").save(eight)
    exact = tmp_path / "exact16.png"
    _save16(values, exact)
    assert same_pixels(eight, exact)  # 40 * 257: the same value at 16 bits
    values[0, 0] += 1
    off = tmp_path / "off16.png"
    _save16(values, off)
    assert not same_pixels(eight, off)  # lost if the check ran at 8 bits


def test_png_inputs_skip_corrupt_suite_cases(tmp_path: Path) -> None:
    suite = tmp_path / "pngsuite"
    suite.mkdir()
    for name in ("basn2c08.png", "basn6a08.png", "xc1n0g08.png"):
        (suite / name).write_bytes((FIXTURES_DIR / "pngsuite" / name).read_bytes())
    kodak = tmp_path / "kodak"
    kodak.mkdir()
    (kodak / "kodim03.png").write_bytes((FIXTURES_DIR / "png" / "kodim03.png").read_bytes())
    images = png_inputs(tmp_path, kodak=1, pngsuite_step=1)
    assert [image.name for image in images] == ["kodim03", "basn2c08", "basn6a08"]
    assert (images[0].width, images[0].height) == (768, 512)
