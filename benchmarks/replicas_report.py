"""The replica benchmark's medians, 2/1 ratios, Markdown report and plot (benchmarks.replicas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from benchmarks.measure import median
from benchmarks.plots import save_figure

if TYPE_CHECKING:
    from benchmarks.replicas import Input, Sample

CEILING = 1.8
"""What 2 replicas can reach on 2 cores: the client, nginx, PostgreSQL and the replicas' own
gRPC edge share the cores with the two workers."""


def describe_inputs(subsets: Mapping[str, Sequence[Input]]) -> str:
    parts = []
    for subset, images in subsets.items():
        sizes = [len(image.data) for image in images]
        distinct = len({image.data for image in images})
        parts.append(
            f"{subset}: {len(images)} calls of {distinct} distinct images, "
            f"{min(sizes) / 1000:.0f}-{max(sizes) / 1000:.0f} kB, "
            f"{sum(image.megapixels for image in images):.2f} MP"
        )
    return "; ".join(parts)


def _side(samples: Sequence[Sample]) -> dict[str, Any]:
    """Medians over one configuration's passes."""

    def per_image(seconds: str) -> float:
        return median(1000 * getattr(s, seconds) / s.images for s in samples)

    upstreams: dict[str, int] = {}
    for sample in samples:
        for address, calls in sample.upstreams.items():
            upstreams[address] = upstreams.get(address, 0) + calls
    return {
        "passes": len(samples),
        "images": samples[0].images if samples else 0,
        "images_per_second": median(s.images_per_second for s in samples),
        "megapixels_per_second": median(s.megapixels_per_second for s in samples),
        "replica_cpu_ms_per_image": per_image("replica_cpu_seconds"),
        "edge_cpu_ms_per_image": per_image("edge_cpu_seconds"),
        "nginx_cpu_ms_per_image": per_image("nginx_cpu_seconds"),
        "postgres_cpu_ms_per_image": per_image("postgres_cpu_seconds"),
        "client_cpu_ms_per_image": per_image("client_cpu_seconds"),
        "worker_cores": median(
            (s.replica_cpu_seconds - s.edge_cpu_seconds) / s.wall_seconds for s in samples
        ),
        "machine_busy_cores": median(s.machine_busy_seconds / s.wall_seconds for s in samples),
        "other_cores": median(_others(s) / s.wall_seconds for s in samples),
        "upstreams": upstreams,
        "errors": sum(len(s.errors) for s in samples),
    }


def _others(sample: Sample) -> float:
    """Busy CPU seconds of processes that are not part of the benchmark (the noise)."""
    ours = (
        sample.replica_cpu_seconds
        + sample.nginx_cpu_seconds
        + sample.postgres_cpu_seconds
        + sample.client_cpu_seconds
    )
    return max(0.0, sample.machine_busy_seconds - ours)


def paired_ratios(samples: Sequence[Sample]) -> list[float]:
    """2-replica over 1-replica images/s of each round's back-to-back pair."""
    by_round: dict[int, dict[int, float]] = {}
    for sample in samples:
        by_round.setdefault(sample.round, {})[sample.replicas] = sample.images_per_second
    return [pair[2] / pair[1] for _, pair in sorted(by_round.items()) if set(pair) == {1, 2}]


def cpu_ceiling(side: Mapping[str, Any], cores: int) -> float:
    """The 2/1 ratio the CPU per image allows on `cores` cores: one replica is bound by its
    one worker, two by their worker or by every process's CPU (edges, nginx, PostgreSQL,
    client) filling the cores, whichever comes first."""
    worker = float(side["replica_cpu_ms_per_image"] - side["edge_cpu_ms_per_image"])
    total = float(
        side["replica_cpu_ms_per_image"]
        + side["nginx_cpu_ms_per_image"]
        + side["postgres_cpu_ms_per_image"]
        + side["client_cpu_ms_per_image"]
    )
    if worker <= 0 or total <= 0:
        return float("nan")
    one = min(1 / worker, cores / total)
    return min(2 / worker, cores / total) / one


def summarise(samples: Sequence[Sample], cores: int) -> list[dict[str, Any]]:
    """Per subset and front: each replica count's medians, the paired 2/1 ratio and the
    ratio the CPU per image allows on `cores` cores."""
    rows = []
    for subset, front in dict.fromkeys((s.subset, s.front) for s in samples):
        mine = [s for s in samples if (s.subset, s.front) == (subset, front)]
        one = _side([s for s in mine if s.replicas == 1])
        two = _side([s for s in mine if s.replicas == 2])
        ratios = paired_ratios(mine)
        rows.append(
            {
                "subset": subset,
                "front": front,
                "one": one,
                "two": two,
                "ratio": median(ratios),
                "ratios": ratios,
                "ratio_of_medians": two["images_per_second"] / one["images_per_second"],
                "cpu_ceiling": cpu_ceiling(two, cores),
            }
        )
    return rows


def overall_ratio(rows: Sequence[Mapping[str, Any]], front: str) -> float:
    """The median of every round's 2/1 ratio through `front`, over both subsets."""
    return median(ratio for row in rows if row["front"] == front for ratio in row["ratios"])


NOISY_CORES = 0.25
"""Other processes using more than this during the passes make the run a noisy one."""


def _noise(rows: Sequence[Mapping[str, Any]]) -> str:
    others = median(row[side]["other_cores"] for row in rows for side in ("one", "two"))
    if others <= NOISY_CORES:
        return ""
    return (
        f" **Noisy run**: other processes used {others:.2f} cores (median over the passes), "
        "so these figures understate what a second replica gives on a quiet machine."
    )


def _load(values: Sequence[float]) -> str:
    return " / ".join(f"{value:.2f}" for value in values)


def _split(upstreams: Mapping[str, int]) -> str:
    total = sum(upstreams.values())
    if not total:
        return "-"
    return " / ".join(f"{100 * calls / total:.0f}%" for _, calls in sorted(upstreams.items()))


CPU_HEADER = (
    *("subset", "front", "replicas 1", "2", "edge 1", "2"),
    *("nginx 1", "2", "PostgreSQL 1", "2", "client 1", "2"),
)


def _pair(row: Mapping[str, Any], name: str, spec: str) -> list[str]:
    """`name` of the 1-replica and the 2-replica side, formatted with `spec`."""
    return [format(row["one"][name], spec), format(row["two"][name], spec)]


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cells) + " |" for cells in rows]
    return "\n".join(lines)


def markdown(meta: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> str:
    environment = meta["environment"]
    lines = [
        "# pixpress: 1 against 2 replicas on one PostgreSQL store",
        "",
        f"{str(environment['date'])[:10]} · {environment['cpu_model']} · "
        f"{environment['usable_cores']} cores · `{meta['command']}` · "
        f"{meta['runtime_seconds'] / 60:.1f} min",
        "",
        f"Replicas `{' '.join(meta['replica_args'])} --store postgresql://…` on one PostgreSQL "
        f"15 cluster (loopback, fsync off); nginx (Debian's package, deploy/nginx's template) "
        f"in front of the first replica or of both; *direct*: the SDK's own round robin over "
        f"the replicas' addresses, as a reference. Default quality, {meta['concurrency']} calls "
        f"in flight from one SDK AsyncClient (one gRPC channel), {meta['passes']} round(s): each "
        "runs 1 and 2 replicas back to back, the order alternating; medians. 2/1: the median of "
        "each round's ratio. Inputs (Kodak photos from the shared corpus, 768x512 or 512x768): "
        f"{meta['inputs']}.",
        "",
        "*CPU ceiling* = the 2/1 ratio this CPU per image allows on this machine's cores: "
        "one replica is bound by its worker, two by theirs or by all the CPU below filling the "
        "cores (2-replica side). "
        "*workers* = cores the replicas' workers used (1.00 per replica when the work keeps "
        "them busy); *busy* = cores the whole machine used; *others* = busy minus the "
        "benchmark's processes (other users of the machine: noise).",
        "",
        _table(
            [
                "subset",
                "front",
                "1 replica img/s",
                "MP/s",
                "2 replicas img/s",
                "MP/s",
                "**2/1**",
                "CPU ceiling",
                "workers 1",
                "2",
                "busy 1",
                "2",
                "others 1",
                "2",
                "nginx split (2)",
            ],
            [
                [
                    f"{row['subset']} ({row['one']['images']})",
                    row["front"],
                    f"{row['one']['images_per_second']:.2f}",
                    f"{row['one']['megapixels_per_second']:.2f}",
                    f"{row['two']['images_per_second']:.2f}",
                    f"{row['two']['megapixels_per_second']:.2f}",
                    f"**{row['ratio']:.2f}x**",
                    f"{row['cpu_ceiling']:.2f}x",
                    *_pair(row, "worker_cores", ".2f"),
                    *_pair(row, "machine_busy_cores", ".2f"),
                    *_pair(row, "other_cores", ".2f"),
                    _split(row["two"]["upstreams"]) if row["front"] == "nginx" else "-",
                ]
                for row in rows
            ],
        ),
        "",
        "CPU ms per image from /proc (psutil): *replicas* = both replica processes and their "
        "workers; *edge* = the replica processes alone (gRPC, auth, the store; the encoders "
        "run in the workers); *nginx* = master and worker; *PostgreSQL* = postmaster and "
        "backends; *client* = this benchmark's process.",
        "",
        _table(
            CPU_HEADER,
            [
                [
                    row["subset"],
                    row["front"],
                    *_pair(row, "replica_cpu_ms_per_image", ".0f"),
                    *_pair(row, "edge_cpu_ms_per_image", ".1f"),
                    *_pair(row, "nginx_cpu_ms_per_image", ".1f"),
                    *_pair(row, "postgres_cpu_ms_per_image", ".1f"),
                    *_pair(row, "client_cpu_ms_per_image", ".1f"),
                ]
                for row in rows
            ],
        ),
    ]
    errors = sum(row[side]["errors"] for row in rows for side in ("one", "two"))
    lines += [
        "",
        f"Through nginx, over every round of both subsets: **{overall_ratio(rows, 'nginx'):.2f}x**"
        f" (direct: {overall_ratio(rows, 'direct'):.2f}x). On {environment['usable_cores']} "
        f"cores about {CEILING}x is the ceiling: the second worker shares the cores with the "
        "client, nginx, PostgreSQL and both replicas' gRPC edges; the *CPU ceiling* column "
        "derives it from this run's CPU per image (lower for small, fast images, where the "
        "edges' share is larger). Failed calls: "
        f"{errors}.{_noise(rows)}",
        "",
        f"Load average (1/5/15 min): {_load(environment['load_average_at_start'])} at the start, "
        f"{_load(meta['load_average_after_passes'])} after the passes, "
        f"{_load(meta['load_average_at_end'])} at the end.",
    ]
    latency = meta["store_latency_ms"]
    if latency:
        lines += [
            "",
            "## Added latency of the PostgreSQL store over SQLite",
            "",
            f"`benchmarks.store_latency` (imported, on this run's cluster): one fresh one-worker "
            f"server of each store, {meta['store_latency_calls']} sequential calls each after a "
            "warm-up, median ms per call.",
            "",
            "| call | SQLite ms | PostgreSQL ms | added ms |",
            "|---|---|---|---|",
        ]
        for call in latency["sqlite"]:
            sqlite, postgres = latency["sqlite"][call], latency["postgresql"][call]
            lines.append(f"| {call} | {sqlite:.2f} | {postgres:.2f} | {postgres - sqlite:+.2f} |")
    return "\n".join(lines) + "\n"


def plot(rows: Sequence[Mapping[str, Any]], path: Path, meta: Mapping[str, Any]) -> Path:
    """Images/s of 1 and 2 replicas through each front, a panel per subset (their scales
    differ tenfold), the 2/1 ratio over each pair."""
    subsets = list(dict.fromkeys(row["subset"] for row in rows))
    figure, panels = plt.subplots(1, len(subsets), figsize=(7, 4), squeeze=False)
    width = 0.38
    for axes, subset in zip(panels[0], subsets, strict=True):
        mine = [row for row in rows if row["subset"] == subset]
        positions = range(len(mine))
        one = [row["one"]["images_per_second"] for row in mine]
        two = [row["two"]["images_per_second"] for row in mine]
        axes.bar([p - width / 2 for p in positions], one, width, label="1 replica")
        axes.bar([p + width / 2 for p in positions], two, width, label="2 replicas")
        for position, row, height in zip(positions, mine, two, strict=True):
            axes.annotate(
                f"{row['ratio']:.2f}x", (position + width / 2, height), ha="center", va="bottom"
            )
        axes.set_xticks(list(positions), [row["front"] for row in mine])
        axes.set(ylabel="images/s (median)", title=subset)
        axes.margins(y=0.12)
        axes.grid(axis="y", alpha=0.3)
    panels[0][0].legend(fontsize=8, loc="lower left")
    environment = meta["environment"]
    subtitle = (
        f"{str(environment['date'])[:10]} · {environment['cpu_model']} · "
        f"{environment['usable_cores']} cores · {meta['passes']} rounds"
    )
    return save_figure(figure, path, subtitle, "1 vs 2 replicas, one worker each")
