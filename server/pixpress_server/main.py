"""`pixpress-server`: the composition root that builds every part in order and serves."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from pixpress.v1 import compress_pb2, compress_pb2_grpc

from pixpress_server import settings as settings_module
from pixpress_server.admission import MemoryBudget, RequestQueue
from pixpress_server.processing.model import Limits
from pixpress_server.servicers.compress import CompressLimits, CompressServicer
from pixpress_server.settings import Settings, SettingsError
from pixpress_server.spool import Spool
from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger("pixpress_server")

SERVICE_NAMES = (
    compress_pb2.DESCRIPTOR.services_by_name["CompressService"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.SERVICE_NAME,
)
_MESSAGE_LIMIT = 4 * 1024 * 1024


def display_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain in-flight requests and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    spool = Spool(settings.spool_dir)
    spool.prepare()
    pool = WorkerPool(settings.workers, settings.log_level)
    await pool.start()
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
            ("grpc.max_send_message_length", _MESSAGE_LIMIT),
            ("grpc.so_reuseport", 0),
        ]
    )
    limits = CompressLimits(
        max_input_bytes=settings.max_input_bytes,
        image=Limits(max_pixels=settings.max_pixels, max_frames=settings.max_frames),
    )
    compress_pb2_grpc.add_CompressServiceServicer_to_server(
        CompressServicer(
            limits,
            pool,
            RequestQueue(settings.max_queue),
            MemoryBudget(settings.memory_budget),
            spool,
        ),
        server,
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(SERVICE_NAMES, server)
    try:
        port = server.add_insecure_port(display_address(settings.host, settings.port))
    except RuntimeError as error:
        await pool.close()
        raise SettingsError(
            f"cannot listen on {display_address(settings.host, settings.port)}: {error}"
        ) from None
    await server.start()
    for name in ("", SERVICE_NAMES[0]):
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    print(f"pixpress listening on {display_address(settings.host, port)}", flush=True)
    logger.info(
        "workers=%d memory_budget=%d max_input_bytes=%d data_dir=%s",
        settings.workers,
        settings.memory_budget,
        settings.max_input_bytes,
        settings.data_dir,
    )

    await stop.wait()
    logger.info(
        "shutting down: draining in-flight requests for up to %.0fs", settings.shutdown_grace
    )
    await health.enter_graceful_shutdown()
    await server.stop(settings.shutdown_grace)
    await pool.close()
    logger.info("stopped")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pixpress-server",
        description="Serve pixpress: compress an image while maintaining its current format.",
    )
    settings_module.add_arguments(parser)
    try:
        settings = settings_module.load(parser.parse_args(argv))
    except SettingsError as error:
        parser.error(str(error))
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    try:
        asyncio.run(serve(settings))
    except SettingsError as error:
        print(f"pixpress-server: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
