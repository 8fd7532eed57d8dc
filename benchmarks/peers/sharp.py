"""sharp (libvips with mozjpeg, libimagequant, libwebp, cgif) run through Node.

`sharp_compress.mjs` beside this file compresses a batch and reports its own CPU.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from benchmarks.peers import BatchJob, BatchResult
from benchmarks.peers.install import sharp_module

SCRIPT = Path(__file__).resolve().parent / "sharp_compress.mjs"
SHARP_FORMATS = frozenset({"jpeg", "png", "webp", "gif", "avif"})


class SharpPeer:
    """Compresses batches with sharp in one Node process per batch."""

    name = "sharp"

    def __init__(self, module: Path | None = None) -> None:
        self.module = module or sharp_module()
        self.node = shutil.which("node")

    def missing(self) -> str | None:
        """Why sharp cannot run (with how to install it), or None when it can."""
        if self.node is None:
            return "sharp skipped: node is not on PATH (install Node.js 20+ and npm)"
        if not (self.module / "package.json").exists():
            return (
                f"sharp skipped: not installed in {self.module.parent.parent} "
                "(run: python -m benchmarks.compare --install-peers)"
            )
        return None

    def compress(
        self, jobs: Sequence[BatchJob], quality: int, concurrency: int = 2, timeout: float = 900
    ) -> BatchResult:
        assert self.node is not None
        request = {
            "quality": quality,
            "concurrency": concurrency,
            "jobs": [
                {"input": str(j.input), "output": str(j.output), "format": j.format} for j in jobs
            ],
        }
        for job in jobs:
            job.output.parent.mkdir(parents=True, exist_ok=True)
        completed = subprocess.run(
            [self.node, str(SCRIPT)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={"SHARP_MODULE": str(self.module), "PATH": "/usr/bin:/bin"},
        )
        if completed.returncode != 0:
            raise RuntimeError(f"sharp failed: {completed.stderr.strip()[-2000:]}")
        report = json.loads(completed.stdout)
        sizes = {
            job.name: int(size)
            for job, size in zip(jobs, report["sizes"], strict=True)
            if size >= 0
        }
        return BatchResult(
            sizes, float(report["cpu_seconds"]), float(report["wall_seconds"]), report["errors"]
        )
