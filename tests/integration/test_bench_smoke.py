"""The benchmark suite stays runnable: `python -m benchmarks --smoke` end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SECTIONS = {"meta", "corpus", "compression", "throughput", "big_images", "targets", "plots"}
PLOTS = ("ratio_vs_quality.png", "rate_quality.png", "throughput.png", "latency.png")


def run_smoke(module: str, out: Path) -> dict[str, Any]:
    """`python -m MODULE --smoke --out OUT`, which must succeed; its results.json."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    data: dict[str, Any] = json.loads((out / "results.json").read_text())
    return data


def test_smoke_run_writes_json_markdown_and_plots(tmp_path: Path) -> None:
    """Without --out, into a new temporary directory: the working directory stays as it was."""
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--smoke"],
        cwd=checkout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert list(checkout.iterdir()) == []
    written = re.search(r"wrote (/\S+)/results\.json", completed.stderr)
    assert written is not None, completed.stderr[-2000:]
    out = Path(written[1])
    try:
        assert not out.is_relative_to(checkout)
        check_smoke_outputs(json.loads((out / "results.json").read_text()), out)
    finally:
        shutil.rmtree(out)


def check_smoke_outputs(data: dict[str, Any], out: Path) -> None:
    assert set(data) >= SECTIONS
    assert len(data["corpus"]["images"]) == 2
    modes = {row["mode"] for row in data["throughput"]}
    assert modes == {"in-process", "service", "pillow"}
    for row in data["throughput"]:
        assert row["errors"] == 0
        assert row["images_per_second"] > 0
    encoders = {row["encoder"] for row in data["compression"]["rows"]}
    assert encoders == {"pixpress", "pillow"}
    assert all(row["mean_ssimulacra2"] is not None for row in data["compression"]["rows"])
    assert data["big_images"]["single"] == []
    assert data["targets"]

    report = (out / "report.md").read_text()
    assert report.startswith("# pixpress benchmark")
    assert "## Targets" in report
    for name in PLOTS:
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_compare_smoke_runs_without_peers(tmp_path: Path) -> None:
    out = tmp_path / "compare"
    data = run_smoke("benchmarks.compare", out)
    assert data["meta"]["peers"] == {"sharp": "skipped", "thumbor": "skipped"}
    formats = {point["format"] for point in data["sweep"]}
    assert formats == {"jpeg", "png", "webp", "gif"}
    assert all(point["mean_score"] is not None for point in data["sweep"])
    runners = {(sample["runner"], sample["format"]) for sample in data["cpu"]}
    assert {("service", "png"), ("in-process", "png"), ("in-process effort 1", "jpeg")} <= runners
    assert all(sample["errors"] == 0 for sample in data["cpu"])
    names = {target["name"] for target in data["targets"]}
    assert "BD-rate vs sharp, JPEG" in names

    report = (out / "report.md").read_text()
    assert "## Targets" in report
    for name in ("rate_quality_peers.png", "cpu_per_mp.png"):
        assert (out / name).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
