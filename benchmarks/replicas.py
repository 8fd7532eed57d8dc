"""1 against 2 replicas (one worker each) on one PostgreSQL store, through nginx and direct.

`python -m benchmarks.replicas --corpus DIR --out DIR [--passes N] [--smoke]`: interleaved
passes (1, 2, 1, 2 ...), images/s, MP/s, CPU per image of replicas, nginx and PostgreSQL, 2/1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyvips
from pixpress import AsyncClient, PixpressError

from benchmarks import replicas_report, store_latency
from benchmarks.compare_inputs import pick_photos
from benchmarks.environment import describe, usable_cores
from benchmarks.http_vs_grpc import corpus_with_photos
from benchmarks.levers import SHARED_CORPUS
from benchmarks.measure import (
    cpu_delta,
    cpu_seconds,
    median,
    own_cpu_seconds,
    settle,
    system_busy_seconds,
    tree_pids,
)
from benchmarks.server import ServerProcess, new_key, start_server
from tests.integration.nginx_process import NginxProcess, start_nginx
from tests.postgres_service import PostgresServer, postgres_bin, start_postgres

JSON_NAME = "results.json"
MARKDOWN_NAME = "report.md"
PLOT_NAME = "replicas.png"
FRONTS = ("nginx", "direct")
SUBSETS = ("jpeg", "png")
JPEG_QUALITY = 95
"""The Kodak PNGs become JPEGs as cameras write them (q 95, 4:2:0) for the JPEG subset."""
JPEG_COPIES = 6
"""A JPEG takes a tenth of a PNG's time: each is sent this often per pass, so that a pass lasts
about as long as the PNG one (~5 s on one worker)."""
SMOKE_WIDTH = 96
SETTLE_WINDOW = 0.3
SETTLE_CPU = 0.1
"""A pass starts once the replicas used under this share of a core for SETTLE_WINDOW s."""
SETTLE_LIMIT = 15.0
CALL_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class Input:
    name: str
    format: str
    data: bytes
    megapixels: float


@dataclass
class Sample:
    """One timed pass of one subset through one front to 1 or 2 replicas."""

    subset: str
    front: str
    replicas: int
    round: int
    wall_seconds: float
    images: int
    megapixels: float
    bytes_in: int
    bytes_out: int
    replica_cpu_seconds: float
    """Every replica process and its workers (both replicas, the idle one too)."""
    edge_cpu_seconds: float
    """The replica processes alone: gRPC, auth, the store; the encoders run in the workers."""
    nginx_cpu_seconds: float
    postgres_cpu_seconds: float
    client_cpu_seconds: float
    machine_busy_seconds: float
    """CPU seconds the whole machine was busy: ours and everyone else's."""
    upstreams: dict[str, int] = field(default_factory=dict)
    """Calls nginx sent to each replica in this pass (nginx passes)."""
    errors: list[str] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images / self.wall_seconds

    @property
    def megapixels_per_second(self) -> float:
        return self.megapixels / self.wall_seconds


def _jpeg(image: pyvips.Image) -> bytes:
    return bytes(image.jpegsave_buffer(Q=JPEG_QUALITY, subsample_mode="on"))


def build_inputs(corpus: Path, photos: int, smoke: bool) -> dict[str, list[Input]]:
    """subset -> images: `photos` Kodak photos as they are (PNG) and as JPEG q 95 (each
    JPEG_COPIES times); shrunk to SMOKE_WIDTH pixels wide in a smoke run. Without Kodak photos
    in `corpus`, the two of the test fixtures."""
    sources = pick_photos(corpus_with_photos(corpus), photos)
    if not sources:
        raise SystemExit(f"no Kodak photos (kodim*.png) under {corpus}")
    subsets: dict[str, list[Input]] = {"jpeg": [], "png": []}
    for source in sources:
        image = pyvips.Image.new_from_file(str(source), access="sequential").copy_memory()
        png = source.read_bytes()
        if smoke:
            image = image.resize(SMOKE_WIDTH / image.width)
            png = bytes(image.pngsave_buffer())
        megapixels = image.width * image.height / 1e6
        subsets["png"].append(Input(source.stem, "png", png, megapixels))
        jpeg = _jpeg(image)
        copies = 1 if smoke else JPEG_COPIES
        subsets["jpeg"] += [
            Input(f"{source.stem}-{copy}", "jpeg", jpeg, megapixels) for copy in range(copies)
        ]
    return subsets


@dataclass
class Services:
    """PostgreSQL, two replicas on it, and nginx in front of the first one and of both."""

    postgres: PostgresServer
    store: str
    api_key: str
    replicas: list[ServerProcess]
    nginx: dict[int, NginxProcess]
    """Replica count -> the nginx in front of that many replicas."""
    replica_args: list[str]

    def targets(self, front: str, replicas: int) -> str | list[str]:
        """Where a client connects: an nginx, or the replicas themselves (the SDK's round
        robin over several targets; a list of one is that one target)."""
        if front == "nginx":
            return self.nginx[replicas].grpc_address
        return [replica.address for replica in self.replicas[:replicas]]

    def replica_pids(self) -> list[int]:
        return [pid for replica in self.replicas for pid in tree_pids(replica.pid)]


def require_binaries() -> None:
    """Fail early, naming the package, when PostgreSQL or nginx is not installed."""
    missing = []
    if postgres_bin() is None:
        missing.append("postgresql")
    if shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK):
        missing.append("nginx")
    if missing:
        raise SystemExit(
            f"needs Debian's {' and '.join(missing)}: apt-get install {' '.join(missing)}"
        )


@contextmanager
def services(scratch: Path) -> Iterator[Services]:
    """Start everything in `scratch` on loopback; stop it all on the way out."""
    with ExitStack() as stack:
        postgres = start_postgres()
        stack.callback(postgres.stop)
        store = postgres.new_database()
        api_key = new_key(store=store)  # every replica on that store accepts it
        replica_args = ["--workers", "1", "--background-slots", "1", "--rate-limit", "0"]
        replicas = []
        for name in ("a", "b"):
            replica = start_server(
                scratch / f"replica-{name}", [*replica_args, "--store", store], create_api_key=False
            )
            stack.callback(replica.stop)
            replicas.append(replica)
        nginx = {}
        for count in (1, 2):
            front = start_nginx(
                scratch / f"nginx-{count}",
                [replica.address for replica in replicas[:count]],
                [replica.http_address for replica in replicas[:count]],
            )
            stack.callback(front.stop)
            nginx[count] = front
        yield Services(postgres, store, api_key, replicas, nginx, replica_args)


class Runner:
    """One SDK AsyncClient (one gRPC channel) per front and replica count, and timed passes."""

    def __init__(self, running: Services, concurrency: int) -> None:
        self.services = running
        self.concurrency = concurrency
        self.clients = {
            (front, count): AsyncClient(
                running.targets(front, count), api_key=running.api_key, timeout=CALL_TIMEOUT
            )
            for front in FRONTS
            for count in (1, 2)
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()

    async def run_pass(
        self, subset: str, images: Sequence[Input], front: str, replicas: int, round_: int
    ) -> Sample:
        client = self.clients[(front, replicas)]
        gate = asyncio.Semaphore(self.concurrency)
        sizes: list[int] = []
        errors: list[str] = []

        async def one(image: Input) -> None:
            async with gate:
                try:
                    result = await client.compress(image.data)
                    sizes.append(len(result.data))
                except PixpressError as error:
                    errors.append(f"{image.name}.{image.format}: {error}")

        # The previous pass's tail (actions recorded) would slow this one.
        await settle(self.services.replica_pids, SETTLE_WINDOW, SETTLE_CPU, SETTLE_LIMIT)
        nginx = self.services.nginx[replicas] if front == "nginx" else None
        logged = len(nginx.upstreams()) if nginx else 0
        groups = {
            "replica": self.services.replica_pids(),
            "nginx": tree_pids(nginx.process.pid) if nginx else [],
            "postgres": tree_pids(self.services.postgres.process.pid),
        }
        before = {name: cpu_seconds(pids) for name, pids in groups.items()}
        client_before, busy_before = own_cpu_seconds(), system_busy_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(one(image) for image in images))
        wall = time.perf_counter() - started
        client_cpu, busy = own_cpu_seconds() - client_before, system_busy_seconds() - busy_before
        spent = {
            name: cpu_delta(before[name], cpu_seconds(pids))
            for name, pids in {
                "replica": self.services.replica_pids(),
                "nginx": groups["nginx"],
                "postgres": tree_pids(self.services.postgres.process.pid),
            }.items()
        }
        mains = [replica.pid for replica in self.services.replicas]
        edge = sum(cpu_seconds(mains).values()) - sum(before["replica"].get(p, 0.0) for p in mains)
        upstreams: dict[str, int] = {}
        for address in nginx.upstreams()[logged:] if nginx else []:
            upstreams[address] = upstreams.get(address, 0) + 1
        return Sample(
            subset=subset,
            front=front,
            replicas=replicas,
            round=round_,
            wall_seconds=wall,
            images=len(images),
            megapixels=sum(image.megapixels for image in images),
            bytes_in=sum(len(image.data) for image in images),
            bytes_out=sum(sizes),
            replica_cpu_seconds=spent["replica"],
            edge_cpu_seconds=edge,
            nginx_cpu_seconds=spent["nginx"],
            postgres_cpu_seconds=spent["postgres"],
            client_cpu_seconds=client_cpu,
            machine_busy_seconds=busy,
            upstreams=upstreams,
            errors=errors,
        )


def pass_order(round_: int, position: int) -> tuple[int, int]:
    """Replica counts of the two back-to-back passes: 1 then 2, or 2 then 1, alternating so
    each goes first as often (and a slow moment of a shared machine hits both sides)."""
    return (1, 2) if (round_ + position) % 2 == 0 else (2, 1)


async def measure(
    running: Services,
    subsets: dict[str, list[Input]],
    concurrency: int,
    passes: int,
    log: Callable[[str], None],
) -> list[Sample]:
    """A warm-up pass per client (connections, worker imports), then `passes` rounds in which
    every subset x front runs 1 and 2 replicas back to back."""
    runner = Runner(running, concurrency)
    samples: list[Sample] = []
    try:
        warm_up = [images[0] for images in subsets.values()]
        for front, count in runner.clients:
            await runner.run_pass("warm-up", warm_up * count, front, count, -1)
        for round_ in range(passes):
            position = 0
            for subset, images in subsets.items():
                for front in FRONTS:
                    for count in pass_order(round_, position):
                        sample = await runner.run_pass(subset, images, front, count, round_)
                        samples.append(sample)
                        log(
                            f"round {round_ + 1}/{passes} {subset} {front} x{count}: "
                            f"{sample.images_per_second:.2f} img/s, "
                            f"{sample.megapixels_per_second:.2f} MP/s, "
                            f"busy {sample.machine_busy_seconds / sample.wall_seconds:.2f} "
                            f"cores, {len(sample.errors)} errors"
                        )
                    position += 1
    finally:
        await runner.close()
    return samples


def measure_store_latency(running: Services, calls: int) -> dict[str, dict[str, float]]:
    """benchmarks.store_latency on this cluster (a database of its own): median ms of
    GetAction and small Compress calls on one SQLite and one PostgreSQL server."""
    medians: dict[str, dict[str, float]] = {}
    for name, store in (("sqlite", None), ("postgresql", running.postgres.new_database())):
        times = store_latency.measure(store, calls)
        medians[name] = {call: median(values) for call, values in times.items()}
    return medians


def parser() -> argparse.ArgumentParser:
    command = argparse.ArgumentParser(
        prog="python -m benchmarks.replicas", description=__doc__.splitlines()[0]
    )
    command.add_argument("--corpus", type=Path, default=SHARED_CORPUS, help="Kodak photos here")
    command.add_argument("--out", type=Path, default=None, help="default: a temporary directory")
    command.add_argument(
        "--passes",
        type=int,
        default=6,
        help="rounds, each running every configuration once (even: 1 and 2 go first equally)",
    )
    command.add_argument("--photos", type=int, default=24, help="Kodak photos per subset")
    command.add_argument(
        "--concurrency", type=int, default=6, help="calls in flight (keeps both workers busy)"
    )
    command.add_argument(
        "--store-latency-calls",
        type=int,
        default=200,
        help="calls per store for benchmarks.store_latency (0: skip)",
    )
    command.add_argument(
        "--render",
        action="store_true",
        help="measure nothing: derive report and plot again from --out's results.json",
    )
    command.add_argument(
        "--smoke", action="store_true", help="2 tiny photos, 1 round, a few latency calls"
    )
    return command


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.render:
        if args.out is None:
            raise SystemExit("--render needs --out DIR (the directory holding results.json)")
        return render(args.out)
    if args.smoke:
        args.photos, args.passes, args.concurrency, args.store_latency_calls = 2, 1, 2, 5
    require_binaries()
    out: Path = args.out or Path(tempfile.mkdtemp(prefix="pixpress-replicas-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    environment = describe()
    subsets = build_inputs(args.corpus, args.photos, args.smoke)
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    with (
        tempfile.TemporaryDirectory(prefix="pixpress-replicas-run-") as scratch,
        services(Path(scratch)) as running,
    ):
        samples = asyncio.run(measure(running, subsets, args.concurrency, args.passes, log))
        load_after_passes = list(os.getloadavg())
        latency = (
            measure_store_latency(running, args.store_latency_calls)
            if args.store_latency_calls
            else {}
        )
        replica_args = running.replica_args
    meta = {
        "environment": environment,
        "command": shlex.join(
            ["python", "-m", "benchmarks.replicas", *(argv if argv is not None else sys.argv[1:])]
        ),
        "replica_args": replica_args,
        "passes": args.passes,
        "concurrency": args.concurrency,
        "inputs": replicas_report.describe_inputs(subsets),
        "load_average_after_passes": load_after_passes,
        "load_average_at_end": list(os.getloadavg()),
        "runtime_seconds": time.monotonic() - started,
        "store_latency_ms": latency,
        "store_latency_calls": args.store_latency_calls,
    }
    write(out, meta, samples, usable_cores())
    return 1 if any(s.errors for s in samples) else 0


def write(out: Path, meta: dict[str, Any], samples: Sequence[Sample], cores: int) -> None:
    """results.json, report.md and the plot in `out`; the report also on stdout."""
    rows = replicas_report.summarise(samples, cores)
    results = {"meta": meta, "rows": rows, "samples": [asdict(s) for s in samples]}
    (out / JSON_NAME).write_text(json.dumps(results, indent=2, default=str) + "\n")
    replicas_report.plot(rows, out / PLOT_NAME, meta)
    report = replicas_report.markdown(meta, rows)
    (out / MARKDOWN_NAME).write_text(report)
    print(report)
    print(f"wrote {out / JSON_NAME}, {out / MARKDOWN_NAME} and {out / PLOT_NAME}", file=sys.stderr)


def render(out: Path) -> int:
    """Derive the rows, report and plot again from the samples in OUT/results.json."""
    results = json.loads((out / JSON_NAME).read_text())
    samples = [Sample(**sample) for sample in results["samples"]]
    meta: dict[str, Any] = results["meta"]
    write(out, meta, samples, int(meta["environment"]["usable_cores"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
