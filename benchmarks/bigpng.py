"""An 8000x8000 photo PNG through the service at the default effort: wall time and CPU.

The image is generated at run time (a corpus photo stretched, with a little noise) and never
committed.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path

import pyvips
from pixpress import AsyncClient

from benchmarks.measure import cpu_delta, cpu_seconds, tree_pids
from benchmarks.server import ServerProcess

SIDE = 8000
TIMEOUT = 900.0


def generate(source: Path, directory: Path, side: int = SIDE) -> Path:
    """A `side` x `side` RGB PNG (compression 6) from `source`, kept if already there."""
    path = directory / f"photo-{side}x{side}.png"
    if path.exists():
        return path
    photo = pyvips.Image.new_from_file(str(source))[0:3]
    big = photo.resize(side / photo.width, vscale=side / photo.height, kernel="linear")
    noise = pyvips.Image.gaussnoise(big.width, big.height, sigma=2.0, mean=0)
    partial = directory / f"partial-{path.name}"
    (big + noise).cast("uchar").write_to_file(str(partial), compression=6)
    partial.rename(path)
    return path


@dataclass
class BigPngRun:
    """One compression of the big PNG through the service."""

    side: int
    input_bytes: int
    output_bytes: int
    wall_seconds: float
    server_cpu_seconds: float
    error: str = ""


async def _compress(server: ServerProcess, path: Path, quality: int) -> int:
    async with AsyncClient(server.address, api_key=server.api_key, timeout=TIMEOUT) as client:
        result = await client.compress(path, quality=quality)
        return int(result.output_size)


def run_big_png(server: ServerProcess, path: Path, quality: int, side: int = SIDE) -> BigPngRun:
    before = cpu_seconds(tree_pids(server.pid))
    started = time.perf_counter()
    error = ""
    output = 0
    try:
        output = asyncio.run(_compress(server, path, quality))
    except Exception as failure:  # the figure is reported, whatever went wrong
        error = f"{type(failure).__name__}: {failure}"
    wall = time.perf_counter() - started
    cpu = cpu_delta(before, cpu_seconds(tree_pids(server.pid)))
    return BigPngRun(side, path.stat().st_size, output, wall, cpu, error)
