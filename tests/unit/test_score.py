"""The in-worker SSIMULACRA2 agrees with the benchmark's reference implementation."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from pixpress_server.processing import score, vips
from pixpress_server.processing.model import ImageFormat
from pixpress_server.processing.score import EXACT, SAMPLED, Scorer

from benchmarks.quality import ssimulacra2

FIXTURES = Path(__file__).parent.parent / "fixtures"
# Measured on 20 images x 4 qualities: max 0.004 (float32 instead of float64 error maps).
TOLERANCE = 0.01
# Row sampling (score.SAMPLED): max 0.66 on 20 photos x 3 qualities.
SAMPLED_TOLERANCE = 1.0


def pixels(image: vips.VipsImage) -> npt.NDArray[np.uint8]:
    decoded = vips.srgb8(image)
    return np.frombuffer(decoded.data, dtype=np.uint8).reshape(
        decoded.height, decoded.width, decoded.bands
    )


def jpeg_of(rgb: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=quality)
    return pixels(vips.load_buffer(buffer.getvalue(), ImageFormat.JPEG))


@pytest.mark.parametrize(
    ("path", "image_format"),
    [
        ("png/kodim23.png", ImageFormat.PNG),
        ("jpeg/Landscape_3.jpg", ImageFormat.JPEG),
    ],
)
@pytest.mark.parametrize(
    ("sampling", "tolerance"), [(EXACT, TOLERANCE), (SAMPLED, SAMPLED_TOLERANCE)]
)
def test_scores_agree_with_the_reference(
    path: str, image_format: ImageFormat, sampling: tuple[int, ...], tolerance: float
) -> None:
    # A 512 x 384 crop keeps the test fast (the reference metric is ~1 CPU-s/MP).
    source = vips.load(FIXTURES / path, image_format)
    reference = np.ascontiguousarray(pixels(source)[:384, :512])
    scorer = Scorer(reference, sampling)
    for quality in (30, 70, 90):
        candidate = jpeg_of(reference, quality)
        expected = ssimulacra2.score(reference, candidate)
        assert scorer.score(candidate) == pytest.approx(expected, abs=tolerance)
    assert scorer.score(reference) == 100.0


def test_alpha_is_blended_on_two_greys_like_the_reference() -> None:
    source = vips.load(FIXTURES / "pngsuite/basn6a08.png", ImageFormat.PNG).in_memory()
    reference = pixels(source)
    assert reference.shape[2] == 4
    rng = np.random.default_rng(8)
    noisy = np.clip(reference.astype(np.int16) + rng.integers(-12, 13, reference.shape), 0, 255)
    candidate = noisy.astype(np.uint8)
    expected = ssimulacra2.score(reference, candidate)
    assert Scorer(reference, EXACT).score(candidate) == pytest.approx(expected, abs=TOLERANCE)


def test_an_opaque_candidate_of_an_alpha_source_gets_opaque_alpha() -> None:
    reference = np.full((16, 16, 4), 200, dtype=np.uint8)
    reference[:, :, 3] = 255
    assert Scorer(reference).score(reference[:, :, :3].copy()) == 100.0


def test_grey_and_16_bit_sources_decode_to_8_bit_rgb() -> None:
    for name in ("basn0g16.png", "basn6a16.png"):
        decoded = pixels(vips.load(FIXTURES / "pngsuite" / name, ImageFormat.PNG))
        assert decoded.dtype == np.uint8 and decoded.shape[2] in (3, 4)


def test_too_small_or_mismatched_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 8x8"):
        Scorer(np.zeros((4, 16, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="Expected"):
        Scorer(np.zeros((16, 16, 3), dtype=np.uint8)).score(np.zeros((8, 8, 3), dtype=np.uint8))


@pytest.mark.parametrize("shape", [(2, 40, 33), (1, 3, 7), (1, 1, 12), (3, 9, 2)])
def test_blur_equals_a_zero_padded_convolution_on_both_axes(shape: tuple[int, ...]) -> None:
    planes = np.random.default_rng(3).random(shape, dtype=np.float32)
    taps = score._TAPS.astype(np.float64)
    reach = (taps.size - 1) // 2
    expected = planes.astype(np.float64)
    for axis in (-1, -2):
        expected = np.apply_along_axis(
            lambda line: np.convolve(line, taps)[reach : reach + line.size],
            axis,
            expected,
        )
    assert np.allclose(score._blur(planes), expected, rtol=1e-5, atol=1e-6)


def test_maps_without_weight_are_skipped_where_the_reference_weights_them_zero() -> None:
    used = score._used_maps(6)
    assert used.shape == (6, 3, 3)
    # Finest scale: X and B only feed the artifact map, Y the SSIM and detail-lost maps.
    assert used[0].tolist() == [[False, True, False], [True, False, True], [False, True, False]]
    assert not used[5, 1].any()  # Y at the coarsest scale has no weight at all
    # Fewer scales consume the weights in order, so another map set applies.
    assert score._used_maps(3).shape == (3, 3, 3)
    assert score._used_maps(3)[1].tolist() != used[1].tolist()
