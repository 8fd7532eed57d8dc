"""benchmarks.levers_webp: every named candidate measured at every quality; alpha_q."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from benchmarks.levers import curves
from benchmarks.levers_webp import CANDIDATES, alpha_q_bytes, measure_image
from tests.conftest import FIXTURES_DIR


def _crop(tmp: Path, mode: str) -> Path:
    path = tmp / f"crop-{mode}.png"
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as image:
        crop = image.convert(mode).crop((200, 100, 328, 228))
        if mode == "RGBA":
            crop.putalpha(Image.linear_gradient("L").resize(crop.size))
        crop.save(path)
    return path


def test_named_candidates_at_every_quality(tmp_path: Path) -> None:
    names = ["current (method 4)", "method 6"]
    samples = measure_image(str(_crop(tmp_path, "RGB")), [50, 90], 1, names)
    assert [(s.candidate, s.quality) for s in samples] == [
        ("current (method 4)", 50),
        ("method 6", 50),
        ("method 6", 90),  # rotated: the order changes per quality
        ("current (method 4)", 90),
    ]
    assert all(s.size > 0 and 0 < s.score <= 100 for s in samples)
    by_name = {curve.name: curve for curve in curves(samples)}
    low, high = by_name["current (method 4)"].points
    assert low[1] < high[1] and low[0] < high[0]  # more bytes, higher score at q 90


def test_candidates_include_the_levers_measured() -> None:
    for lever in ("smart_deblock", "preset photo", "preset drawing", "passes 3", "method 6"):
        assert lever in CANDIDATES


def test_alpha_q_below_100_makes_alpha_lossy(tmp_path: Path) -> None:
    import numpy as np
    import pyvips

    source = pyvips.Image.new_from_file(str(_crop(tmp_path, "RGBA")))
    sizes = alpha_q_bytes(str(_crop(tmp_path, "RGBA")), 75, (100, 50))
    assert set(sizes) == {100, 50} and all(size > 0 for size in sizes.values())
    for alpha_q, exact in ((100, True), (50, False)):
        decoded = pyvips.Image.webpload_buffer(source.webpsave_buffer(Q=75, alpha_q=alpha_q))
        assert np.array_equal(decoded.numpy()[..., 3], source.numpy()[..., 3]) is exact
