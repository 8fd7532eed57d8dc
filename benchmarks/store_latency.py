"""What the PostgreSQL store adds per request over SQLite: one server of each on loopback,
sequential GetAction and small Compress calls, medians per store.

`python -m benchmarks.store_latency --store postgresql://…` (a database it may write to).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
from pixpress import Client
from pixpress.v1 import actions_pb2, actions_pb2_grpc

from benchmarks.server import ServerProcess, new_key, start_server

SMALL_PNG = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "pngsuite" / "basn2c08.png"
_WARM_UP = 20


def _timed(call: Callable[[], object], count: int) -> list[float]:
    """Milliseconds of each of `count` calls, after a warm-up."""
    for _ in range(_WARM_UP):
        call()
    times = []
    for _ in range(count):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(store: str | None, calls: int) -> dict[str, list[float]]:
    """GetAction and Compress milliseconds on a fresh one-worker server of that store."""
    with tempfile.TemporaryDirectory(prefix="pixpress-store-latency-") as directory:
        data_dir = Path(directory)
        key = new_key(data_dir=data_dir, store=store)
        flags = ["--workers", "1", "--rate-limit", "0", "--http-port", "off"]
        server: ServerProcess = start_server(
            data_dir, [*flags, *(["--store", store] if store else [])], create_api_key=False
        )
        try:
            image = SMALL_PNG.read_bytes()
            with Client(server.address, api_key=key) as client:
                compress = _timed(lambda: client.compress(image, quality=80), calls)
                action_id = client.compress(image, quality=80).action_id
            metadata = (("authorization", f"Bearer {key}"),)
            with grpc.insecure_channel(server.address) as channel:
                stub = actions_pb2_grpc.ActionServiceStub(channel)
                request = actions_pb2.GetActionRequest(id=action_id)
                get = _timed(lambda: stub.GetAction(request, metadata=metadata, timeout=30), calls)
        finally:
            server.stop()
    return {"GetAction": get, "Compress": compress}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", required=True, help="postgresql://… to measure")
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2, help="servers of each store, alternated")
    arguments = parser.parse_args()
    results: dict[str, dict[str, list[float]]] = {"sqlite": {}, "postgresql": {}}
    for _ in range(arguments.repeats):
        for name, store in (("sqlite", None), ("postgresql", arguments.store)):
            for call, times in measure(store, arguments.calls).items():
                results[name].setdefault(call, []).extend(times)
    print(f"{'call':<10}{'sqlite ms':>12}{'postgresql ms':>16}{'added ms':>11}")
    for call in ("GetAction", "Compress"):
        sqlite = statistics.median(results["sqlite"][call])
        postgres = statistics.median(results["postgresql"][call])
        print(f"{call:<10}{sqlite:>12.3f}{postgres:>16.3f}{postgres - sqlite:>11.3f}")


if __name__ == "__main__":
    main()
