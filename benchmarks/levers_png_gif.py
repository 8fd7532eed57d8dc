"""Issue 8 levers for PNG and GIF: bytes at equal mean SSIMULACRA2 and CPU, per candidate.

python -m benchmarks.levers_png_gif gif|png DIR [--qualities 50,70,90] [--only NAMES]; with
--make-gifs, DIR is first filled with the GIF set (Kodak stills and animations, gifsuite cases).
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import oxipng
import pyvips

from benchmarks.quality.display import as_displayed_frames
from benchmarks.quality.ssimulacra2 import MIN_SIZE, score

GIFSICLE = Path(sys.executable).with_name("gifsicle")
Encode = Callable[[Path, int], bytes]


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _gifsicle(data: bytes, *args: str) -> bytes:
    done = subprocess.run(
        [str(GIFSICLE), "--no-warnings", *args], input=data, capture_output=True, check=True
    )
    return done.stdout


def _vips_gif(path: Path, **options: object) -> bytes:
    image = pyvips.Image.new_from_file(str(path), n=-1, access="sequential")
    return bytes(image.gifsave_buffer(keep="icc", **options))


def _lossy(quality: int) -> str:
    """The candidate mapping of quality to gifsicle's --lossy (q 100: lossless)."""
    return f"--lossy={0 if quality >= 100 else round(2.0 * (100 - quality))}"


def _current_gif(path: Path, quality: int) -> bytes:
    """The encoder before issue 8: re-quantised to 16-256 colours by quality, dithered."""
    bitdepth = 4 + sum(quality >= threshold for threshold in (20, 40, 60, 80))
    return _vips_gif(
        path,
        bitdepth=bitdepth,
        dither=1.0 if quality >= 50 else 0.5,
        interframe_maxerror=round((100 - quality) / 10, 1),
        effort=7,
    )


GIF_CANDIDATES: dict[str, Encode] = {
    "current (requantise)": _current_gif,
    "gifsicle -O1 lossy(q)": lambda p, q: _gifsicle(p.read_bytes(), "-O1", _lossy(q)),
    "sharp (reuse, ife 0)": lambda p, q: _vips_gif(p, reuse=True, effort=7, dither=1.0),
    "reuse + ife(q)": lambda p, q: _vips_gif(
        p, reuse=True, effort=7, dither=1.0, interframe_maxerror=round((100 - q) / 10, 1)
    ),
    "gifsicle -O3 lossy(q)": lambda p, q: _gifsicle(p.read_bytes(), "-O3", _lossy(q)),
    "chosen, effort 1-5: reuse + ife2(q)": lambda p, q: _vips_gif(
        p, reuse=True, effort=7, dither=1.0, interframe_maxerror=round((100 - q) / 5, 1)
    ),
    "chosen, effort 9-10: reuse + ife2(q) then gifsicle -O3": lambda p, q: _gifsicle(
        _vips_gif(p, reuse=True, effort=7, dither=1.0, interframe_maxerror=round((100 - q) / 5, 1)),
        "-O3",
    ),
    "reuse d0 ipe256 ife2(q) then gifsicle -O3": lambda p, q: _gifsicle(
        _vips_gif(
            p,
            reuse=True,
            effort=7,
            dither=0.0,
            interpalette_maxerror=256.0,
            interframe_maxerror=round((100 - q) / 5, 1),
        ),
        "-O3",
    ),
    "reuse then gifsicle -O3 lossy(q)": lambda p, q: _gifsicle(
        _vips_gif(p, reuse=True, effort=7, dither=1.0), "-O3", _lossy(q)
    ),
}


def _png_candidate(effort: int, level: int | None) -> Encode:
    def encode(path: Path, quality: int) -> bytes:
        image = pyvips.Image.new_from_file(str(path), access="sequential")
        data = bytes(
            image.pngsave_buffer(
                palette=True,
                Q=quality,
                effort=effort,
                dither=1.0,
                compression=6 if level is None else 1,
            )
        )
        if level is None:
            return data
        return bytes(
            oxipng.optimize_from_memory(data, level=level, strip=oxipng.StripChunks.safe())
        )

    return encode


PNG_CANDIDATES: dict[str, Encode] = {
    "sharp (effort 7, zlib 6)": _png_candidate(7, None),
    **{
        f"quantiser {e} + oxipng {lv}": _png_candidate(e, lv)
        for e, lv in ((1, None), (3, 0), (6, 1), (7, 2), (10, 3))
    },
}


def _rgba(frame: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if frame.shape[2] == 4:
        return frame
    return np.dstack([frame, np.full(frame.shape[:2], 255, np.uint8)])


_REFERENCES: dict[Path, list[npt.NDArray[np.uint8]]] = {}


def _mean_score(source: Path, output: bytes) -> float | None:
    if source not in _REFERENCES:
        _REFERENCES[source] = as_displayed_frames(source)
    ref = _REFERENCES[source]
    dist = as_displayed_frames(output)
    if len(ref) != len(dist):
        return None
    # First, middle and last frame: representative, and a third of the scoring time.
    picked = sorted({0, len(ref) // 2, len(ref) - 1})
    scores = []
    for index in picked:
        a, b = ref[index], dist[index]
        if min(a.shape[:2]) < MIN_SIZE:
            return None
        if a.shape[2] != b.shape[2]:
            a, b = _rgba(a), _rgba(b)
        scores.append(score(a, b))
    return float(np.mean(scores))


@dataclass
class Point:
    candidate: str
    quality: int
    ratio: float
    score: float
    cpu_s_per_mp: float


def run(
    kind: str, directory: Path, qualities: Sequence[int], only: Sequence[str] = ()
) -> list[Point]:
    suffix = ".gif" if kind == "gif" else ".png"
    files = sorted(p for p in directory.iterdir() if p.suffix == suffix)
    candidates = GIF_CANDIDATES if kind == "gif" else PNG_CANDIDATES
    if only:
        candidates = {k: v for k, v in candidates.items() if any(o in k for o in only)}
    points = []
    for name, encode in candidates.items():
        for quality in qualities if "sharp" not in name or kind == "png" else qualities[:1]:
            total_in = total_out = 0
            cpu = megapixels = 0.0
            scores = []
            for path in files:
                pages = {"n": -1} if kind == "gif" else {}
                header = pyvips.Image.new_from_file(str(path), **pages)
                megapixels += header.width * header.height / 1e6
                before = time.process_time() + _children_cpu()
                output = encode(path, quality)
                cpu += time.process_time() + _children_cpu() - before
                source_bytes = path.stat().st_size
                output = output if len(output) < source_bytes else path.read_bytes()
                total_in += source_bytes
                total_out += len(output)
                value = _mean_score(path, output)
                if value is not None:
                    scores.append(value)
            point = Point(
                name, quality, total_out / total_in, float(np.mean(scores)), cpu / megapixels
            )
            print(
                f"{name:34s} q{quality:3d} ratio {point.ratio:.3f} score {point.score:5.1f} "
                f"cpu {point.cpu_s_per_mp:.3f} s/MP",
                flush=True,
            )
            points.append(point)
    return points


def ratio_at(points: Sequence[Point], target: float) -> float | None:
    """Bytes ratio at `target` mean score, interpolated on log bytes between bracketing points."""
    ordered = sorted(points, key=lambda p: p.score)
    for low, high in itertools.pairwise(ordered):
        if low.score <= target <= high.score and high.score > low.score:
            t = (target - low.score) / (high.score - low.score)
            return math.exp(math.log(low.ratio) + t * (math.log(high.ratio) - math.log(low.ratio)))
    return None


KODAK = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "photos" / "kodak"
GIFSUITE = KODAK.parents[1] / "odd" / "gifsuite"


def make_gifs(directory: Path) -> None:
    """Photo GIFs as libvips (cgif) and Pillow write them: 6 stills, 2 pans (every pixel
    changes) and 2 sprite scenes (a patch moves), plus the scoreable gifsuite cases."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    for number in ("01", "05", "13"):
        still = pyvips.Image.new_from_file(str(KODAK / f"kodim{number}.png"))
        still.gifsave(str(directory / f"still-vips-{number}.gif"), effort=7, dither=1.0)
    for number in ("15", "20", "23"):
        with Image.open(KODAK / f"kodim{number}.png") as opened:
            opened.convert("RGB").save(directory / f"still-pil-{number}.gif")

    def photo(number: str) -> Image.Image:
        with Image.open(KODAK / f"kodim{number}.png") as opened:
            return opened.convert("RGB")

    def pan(number: str, step: int) -> list[Image.Image]:
        image = photo(number)
        return [image.crop((i * step, 40, i * step + 320, 280)) for i in range(12)]

    def sprite(number: str) -> list[Image.Image]:
        scene = photo(number).crop((100, 100, 420, 340))
        patch = scene.crop((0, 0, 48, 48))
        frames = []
        for i in range(12):
            frame = scene.copy()
            frame.paste(patch, (20 + 20 * i, 150))
            frames.append(frame)
        return frames

    for name, frames in (("pan-pil-23", pan("23", 8)), ("patch-pil-14", sprite("14"))):
        frames[0].save(
            directory / f"{name}.gif",
            save_all=True,
            append_images=frames[1:],
            duration=80,
            loop=0,
        )
    for name, frames in (("pan-vips-03", pan("03", 6)), ("patch-vips-21", sprite("21"))):
        pages = [pyvips.Image.new_from_array(np.asarray(frame)) for frame in frames]
        strip = pyvips.Image.arrayjoin(pages, across=1).copy(interpretation="srgb")
        strip.set_type(pyvips.GValue.gint_type, "page-height", 240)
        strip.set_type(pyvips.GValue.array_int_type, "delay", [80] * len(frames))
        strip.set_type(pyvips.GValue.gint_type, "loop", 0)
        strip.gifsave(str(directory / f"{name}.gif"), effort=7, dither=1.0)
    for name in ("max-codes", "255-codes", "large-codes", "4095-codes", "high-color"):
        (directory / f"{name}.gif").write_bytes((GIFSUITE / f"{name}.gif").read_bytes())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("kind", choices=("gif", "png"))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--qualities", default="50,70,90,100")
    parser.add_argument("--only", default="", help="comma-separated substrings of candidates")
    parser.add_argument("--make-gifs", action="store_true", help="write the GIF set into DIR")
    args = parser.parse_args(argv)
    if args.make_gifs:
        make_gifs(args.directory)
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    pyvips.concurrency_set(1)
    qualities = [int(q) for q in args.qualities.split(",")]
    points = run(args.kind, args.directory, qualities, [o for o in args.only.split(",") if o])
    by_name: dict[str, list[Point]] = {}
    for point in points:
        by_name.setdefault(point.candidate, []).append(point)
    print("\nbytes ratio at equal mean SSIMULACRA2:")
    for target in (60.0, 70.0, 80.0, 90.0, 95.0):
        cells = []
        for name, group in by_name.items():
            value = ratio_at(group, target)
            cells.append(f"{name}={value:.3f}" if value is not None else f"{name}=-")
        print(f"  S {target:.0f}: " + ", ".join(cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
