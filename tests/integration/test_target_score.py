"""target_score and max_bytes through a real server: the search's results, checked."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from pixpress import Client

from benchmarks.quality import ssimulacra2

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def rgb(data: bytes) -> npt.NDArray[np.uint8]:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


@pytest.fixture(scope="module")
def photo_jpeg() -> bytes:
    """A real photo as a high-quality JPEG source (small, so the searches stay quick)."""
    buffer = io.BytesIO()
    with Image.open(FIXTURES / "png" / "kodim23.png") as image:
        image.convert("RGB").save(buffer, "JPEG", quality=95)
    return buffer.getvalue()


@pytest.mark.parametrize("target", [70.0, 85.0])
def test_target_score_is_reached_and_reported(
    address: str, photo_jpeg: bytes, target: float
) -> None:
    with Client(address) as client:
        result = client.compress(photo_jpeg, target_score=target)
    assert result.format == "jpeg" and not result.kept_original
    assert result.score is not None and result.score >= target
    assert result.budget_met is None
    assert 1 <= result.quality < 95
    searches = [stage for stage in result.stages if stage.name.startswith("search_q")]
    assert 1 <= len(searches) <= 6
    # The reference metric agrees with what the worker reported (row-sampled: within 1.0)
    # and the search's margin keeps it at the target.
    reached = ssimulacra2.score(rgb(photo_jpeg), rgb(result.data))
    assert reached == pytest.approx(result.score, abs=1.0)
    assert reached >= target - 0.5


def test_a_higher_target_costs_more_bytes(address: str, photo_jpeg: bytes) -> None:
    with Client(address) as client:
        low = client.compress(photo_jpeg, target_score=60)
        high = client.compress(photo_jpeg, target_score=85)
    assert low.output_size < high.output_size
    assert low.quality < high.quality


def test_max_bytes_fits_with_the_budget_met(address: str, photo_jpeg: bytes) -> None:
    budget = len(photo_jpeg) // 5
    with Client(address) as client:
        result = client.compress(photo_jpeg, max_bytes=budget)
        fixed = client.compress(photo_jpeg, quality=80)
    assert result.budget_met is True
    assert result.output_size == len(result.data) <= budget
    assert result.score is None
    assert result.quality < 80 and fixed.output_size > budget  # the budget took quality down
    assert rgb(result.data).shape == rgb(photo_jpeg).shape


def test_an_impossible_budget_gives_the_smallest_unmet(address: str, photo_jpeg: bytes) -> None:
    with Client(address) as client:
        result = client.compress(photo_jpeg, max_bytes=100)
    assert result.budget_met is False
    assert 100 < result.output_size < len(photo_jpeg)
    assert result.quality == 1


def test_a_budget_the_top_quality_meets_takes_one_encode(address: str, photo_jpeg: bytes) -> None:
    with Client(address) as client:
        result = client.compress(photo_jpeg, max_bytes=len(photo_jpeg), quality=70)
    assert result.budget_met is True and result.quality == 70
    assert [s.name for s in result.stages if s.name.startswith("search_q")] == ["search_q70"]


def test_target_score_on_a_gif_is_lossless(address: str) -> None:
    source = (FIXTURES / "gif" / "animation.gif").read_bytes()
    with Client(address) as client:
        result = client.compress(source, target_score=70)
    assert result.format == "gif" and result.score == 100.0
    assert result.output_size <= len(source)


def test_target_score_on_a_lossy_webp(address: str) -> None:
    buffer = io.BytesIO()
    with Image.open(FIXTURES / "png" / "kodim23.png") as image:
        image.convert("RGB").save(buffer, "WEBP", quality=95)
    source = buffer.getvalue()
    with Client(address) as client:
        result = client.compress(source, target_score=70)
    assert result.format == "webp" and not result.kept_original
    assert result.score is not None and result.score >= 70
    assert ssimulacra2.score(rgb(source), rgb(result.data)) >= 69.5
