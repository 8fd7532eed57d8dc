"""The replica benchmark stays runnable: `python -m benchmarks.replicas --smoke` on a real
PostgreSQL and nginx writes its report, and its 2/1 ratios come from its own passes."""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.nginx_process import nginx_binary
from tests.integration.test_bench_smoke import REPO, run_smoke
from tests.postgres_service import require_postgres


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    require_postgres()
    nginx_binary()
    out = tmp_path_factory.mktemp("replicas-bench")
    return run_smoke("benchmarks.replicas", out), out


def test_writes_the_report_json_and_plot(smoke: tuple[dict[str, Any], Path]) -> None:
    data, out = smoke
    report = (out / "report.md").read_text()
    assert (out / "replicas.png").read_bytes().startswith(b"\x89PNG")
    assert "2/1" in report and "Load average" in report
    table = [line for line in report.splitlines() if line.startswith("| ") or line.startswith("|-")]
    assert len({line.count("|") for line in table[:6]}) == 1, "a table row of another width"
    assert {(row["subset"], row["front"]) for row in data["rows"]} == {
        (subset, front) for subset in ("jpeg", "png") for front in ("nginx", "direct")
    }
    assert len(data["meta"]["load_average_at_end"]) == 3
    assert set(data["meta"]["store_latency_ms"]) == {"sqlite", "postgresql"}


def test_every_pass_succeeds_and_two_replicas_both_serve(
    smoke: tuple[dict[str, Any], Path],
) -> None:
    samples = smoke[0]["samples"]
    assert samples and all(not sample["errors"] for sample in samples)
    assert all(sample["bytes_out"] > 0 for sample in samples)
    for sample in samples:
        if sample["front"] == "nginx":
            assert len(sample["upstreams"]) == sample["replicas"], sample["upstreams"]
            assert sum(sample["upstreams"].values()) == sample["images"]
        assert sample["replica_cpu_seconds"] > 0


def test_the_ratio_is_two_replicas_over_one_of_each_round(
    smoke: tuple[dict[str, Any], Path],
) -> None:
    data = smoke[0]
    for row in data["rows"]:
        mine = [
            s for s in data["samples"] if (s["subset"], s["front"]) == (row["subset"], row["front"])
        ]
        rate = {(s["round"], s["replicas"]): s["images"] / s["wall_seconds"] for s in mine}
        rounds = {s["round"] for s in mine}
        expected = statistics.median(rate[(r, 2)] / rate[(r, 1)] for r in rounds)
        assert math.isfinite(row["ratio"]) and row["ratio"] > 0
        # Tiny images may show 0 ms of worker CPU at /proc's 10 ms resolution: NaN then.
        assert math.isnan(row["cpu_ceiling"]) or 1 <= row["cpu_ceiling"] <= 2
        assert row["ratio"] == pytest.approx(expected)
        assert f"**{row['ratio']:.2f}x**" in (smoke[1] / "report.md").read_text()


def test_render_derives_the_same_report_from_results_json(
    smoke: tuple[dict[str, Any], Path],
) -> None:
    out = smoke[1]
    before = (out / "report.md").read_text()
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.replicas", "--render", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert (out / "report.md").read_text() == before
    rows = json.loads((out / "results.json").read_text())["rows"]
    assert json.dumps(rows) == json.dumps(smoke[0]["rows"])  # as text: NaN != NaN
