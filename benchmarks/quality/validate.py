"""Print the validation figures that README.md records: reference cases, PyPI agreement, timing.

Run: `.venv/bin/python -m benchmarks.quality.validate [KODAK_DIR]` (needs the PyPI `ssimulacra2`
package for the agreement table; it is skipped without it).
"""

from __future__ import annotations

import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np
from PIL import Image

from benchmarks.quality import ssimulacra2
from benchmarks.quality.reference_cases import CASES, digest

KODAK = Path("/work/shared/corpus/photos/kodak")
IMAGES = [f"kodim{number:02d}.png" for number in range(1, 11)]
QUALITIES = (30, 50, 70, 90)


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def _true_gaussian_taps(sigma: float = 1.5) -> ssimulacra2.F32:
    """A sampled, normalised Gaussian over +-4 sigma, for comparison with the recursive one."""
    offsets = np.arange(-6, 7)
    taps = np.exp(-0.5 * (offsets / sigma) ** 2)
    result: ssimulacra2.F32 = (taps / taps.sum()).astype(np.float32)
    return result


def reference_table() -> None:
    print("## C++ reference scores (imazen/ssimulacra2 reference_data.rs)")
    print("| case | size | C++ | ours | diff |")
    print("|---|---|---|---|---|")
    for case in CASES:
        ref, dist = case.images()
        assert (digest(ref), digest(dist)) == (case.reference_digest, case.distorted_digest)
        ours = ssimulacra2.score(ref, dist)
        flag = " (flat)" if case.flat else ""
        print(
            f"| {case.name}{flag} | {case.size} | {case.expected:.4f} | {ours:.4f} "
            f"| {ours - case.expected:+.4f} |"
        )


def agreement(kodak: Path) -> None:
    try:
        from ssimulacra2 import (  # the PyPI package, not ours (optional)
            compute_ssimulacra2,
        )
    except ImportError:
        print("PyPI ssimulacra2 not installed: agreement table skipped")
        return
    pypi_diff: list[float] = []
    gauss_diff: list[float] = []
    timings: list[float] = []
    print("\n## Kodak x JPEG (Pillow/libjpeg-turbo, 4:2:0)")
    print("| image | q | ours | PyPI | true-Gaussian blur |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as folder:
        for name in IMAGES:
            source = kodak / name
            ref = np.asarray(Image.open(source).convert("RGB"))
            for quality in QUALITIES:
                encoded = _jpeg(ref, quality)
                dist = np.asarray(Image.open(io.BytesIO(encoded)).convert("RGB"))
                started = time.perf_counter()
                ours = ssimulacra2.score(ref, dist)
                timings.append(time.perf_counter() - started)
                jpeg_path = Path(folder) / f"{name}.{quality}.jpg"
                jpeg_path.write_bytes(encoded)
                pypi = float(compute_ssimulacra2(str(source), str(jpeg_path)))
                with mock.patch.object(ssimulacra2, "_TAPS", _true_gaussian_taps()):
                    gauss = ssimulacra2.score(ref, dist)
                pypi_diff.append(pypi - ours)
                gauss_diff.append(gauss - ours)
                print(f"| {name} | {quality} | {ours:.3f} | {pypi:.3f} | {gauss:.3f} |")
    for label, diffs in (("PyPI ssimulacra2 0.3.0", pypi_diff), ("true Gaussian", gauss_diff)):
        absolute = [abs(d) for d in diffs]
        print(
            f"\n{label} minus ours over {len(diffs)} pairs: mean {statistics.mean(diffs):+.3f}, "
            f"mean |d| {statistics.mean(absolute):.3f}, max |d| {max(absolute):.3f}"
        )
    print(
        f"time per 768x512 pair: median {statistics.median(timings) * 1000:.0f} ms, "
        f"max {max(timings) * 1000:.0f} ms"
    )


def main() -> None:
    reference_table()
    kodak = Path(sys.argv[1]) if len(sys.argv) > 1 else KODAK
    if kodak.is_dir():
        agreement(kodak)
    else:
        print(f"{kodak} not found: agreement table skipped")


if __name__ == "__main__":
    main()
