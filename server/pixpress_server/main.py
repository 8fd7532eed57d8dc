"""`pixpress-server`: the composition root that builds every part in order and serves.

`pixpress-server [FLAGS]` serves; `pixpress-server keys …` manages API keys.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from pixpress.v1 import (
    actions_pb2,
    actions_pb2_grpc,
    assets_pb2,
    assets_pb2_grpc,
    compress_pb2,
    compress_pb2_grpc,
    routes_pb2,
    routes_pb2_grpc,
)

from pixpress_server import __version__, gc_command, migrate_command
from pixpress_server import settings as settings_module
from pixpress_server.actions import ActionTracker
from pixpress_server.admission import MemoryBudget, RequestQueue
from pixpress_server.auth import commands as key_commands
from pixpress_server.auth.authenticator import Authenticator
from pixpress_server.auth.gate import Gate
from pixpress_server.auth.interceptor import identifying
from pixpress_server.blobs import Blobs, open_blobs
from pixpress_server.calls.actions import ActionCalls
from pixpress_server.calls.assets import AssetCalls
from pixpress_server.calls.compress import CompressCalls
from pixpress_server.calls.routes import RouteCalls
from pixpress_server.claims import ClaimLoop
from pixpress_server.client_address import TRUST_NOBODY, TrustedProxies
from pixpress_server.compression import Compressor
from pixpress_server.content import Contents
from pixpress_server.draining import DrainGate, drain_then_stop
from pixpress_server.filemodes import restrict_new_files, tighten
from pixpress_server.health import ServingHealth
from pixpress_server.http.app import build_app
from pixpress_server.http.edge import Edge
from pixpress_server.http.metered import MeteredHttp
from pixpress_server.http.serve import HttpServer, bind
from pixpress_server.metrics import EdgeName, Metrics
from pixpress_server.metrics_server import MetricsServer
from pixpress_server.page_tokens import PageTokens, load_or_create_secret
from pixpress_server.processing.model import Limits
from pixpress_server.queue_depth import QueueDepth
from pixpress_server.ratelimit import FailureWindow, TokenBuckets
from pixpress_server.retention import Retention, Sweeper
from pixpress_server.routes import Route, RouteLimits, Visibility
from pixpress_server.servicers import reflection
from pixpress_server.servicers.actions import ActionServicer
from pixpress_server.servicers.assets import AssetServicer
from pixpress_server.servicers.compress import CompressServicer
from pixpress_server.servicers.guard import GuardInterceptor
from pixpress_server.servicers.idle import IdleStreams
from pixpress_server.servicers.malformed import decoding_checked
from pixpress_server.servicers.metered import MeteredInterceptor
from pixpress_server.servicers.routes import RouteServicer
from pixpress_server.settings import Settings, SettingsError
from pixpress_server.spool import Spool
from pixpress_server.store.base import Store
from pixpress_server.store.opening import open_store
from pixpress_server.tls import server_credentials
from pixpress_server.workers.pool import WorkerPool

logger = logging.getLogger("pixpress_server")

SERVICE_NAMES = (
    compress_pb2.DESCRIPTOR.services_by_name["CompressService"].full_name,
    assets_pb2.DESCRIPTOR.services_by_name["AssetService"].full_name,
    actions_pb2.DESCRIPTOR.services_by_name["ActionService"].full_name,
    routes_pb2.DESCRIPTOR.services_by_name["RouteService"].full_name,
    health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
    reflection.V1_SERVICE_NAME,
    reflection.V1ALPHA_SERVICE_NAME,
)
_MESSAGE_LIMIT = 4 * 1024 * 1024
# Streams one connection may have open at once (HTTP/2 SETTINGS; more wait client-side),
# and how long a connection without any call stays open: idle connections cost a socket each.
_STREAMS_PER_CONNECTION = 100
_IDLE_CONNECTION_MS = 5 * 60 * 1000
# Connections open at once: a client needs one (the SDK and CLI send every call on one
# channel), and unbounded connections would exhaust the descriptors blobs and spool need.
MAX_CONNECTIONS = 256


def display_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def build_route(settings: Settings) -> Route:
    return Route(
        owner=settings.route_owner,
        visibility=Visibility(settings.route_visibility),
        limits=RouteLimits(settings.max_input_bytes, settings.max_pixels, settings.max_frames),
        fixed_id=settings.route_id,
    )


def build_gate(settings: Settings, store: Store) -> Gate | None:
    """Who may call (keys, failed-auth throttle, rate), shared by both edges; None: auth off."""
    if settings.insecure_no_auth:
        return None
    rates = (
        TokenBuckets(settings.rate_limit, settings.rate_burst) if settings.rate_limit > 0 else None
    )
    return Gate(Authenticator(store), FailureWindow(settings.max_auth_failures), rates)


def build_interceptors(
    gate: Gate | None, trusted: TrustedProxies = TRUST_NOBODY
) -> list[grpc.aio.ServerInterceptor]:
    """The client's address always, then keys, throttle, rate unless auth is off; malformed
    requests are INVALID_ARGUMENT always. The first listed runs first."""
    return [GuardInterceptor(identifying(trusted, gate)), GuardInterceptor(decoding_checked)]


async def open_storage(settings: Settings) -> tuple[Blobs, Store, Contents]:
    """The blob storage, the store, and the protocol that keeps the two consistent."""
    blobs = open_blobs(settings.blob_url, settings.blob_dir)
    await asyncio.to_thread(blobs.prepare)
    store = await open_store(settings.store, settings.database_path)
    return blobs, store, Contents(store, blobs, settings.max_storage_per_owner)


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain in-flight requests and return."""
    credentials = server_credentials(settings)  # bad TLS files stop us before anything starts
    tighten(settings.data_dir)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    spool = Spool(settings.spool_dir)
    spool.prepare()
    blobs, store, contents = await open_storage(settings)
    sweeper = Sweeper.started(
        store, contents, Retention(settings.action_retention, settings.output_retention)
    )
    route = build_route(settings)
    tracker = ActionTracker(store, route.id, settings.lease_seconds, settings.watch_refresh_seconds)
    store.on_action_changed(tracker.wake)  # other replicas' changes reach watchers at once
    # The data dir's secret seeds the store's: SQLite keeps its own, replicas share the first.
    tokens = PageTokens(
        await store.shared_secret("page_tokens", load_or_create_secret(settings.secret_path))
    )
    pool = WorkerPool(settings.workers, settings.log_level, settings.threads_per_worker)
    await pool.start()
    metrics = _metrics(pool, tracker)

    drain_gate = DrainGate()
    gate = build_gate(settings, store)
    server = grpc.aio.server(
        interceptors=[
            MeteredInterceptor(functools.partial(metrics.request, EdgeName.GRPC)),
            GuardInterceptor(drain_gate.guarded),
            *build_interceptors(gate, settings.trusted_proxies),
        ],
        options=[
            ("grpc.max_receive_message_length", _MESSAGE_LIMIT),
            ("grpc.max_send_message_length", _MESSAGE_LIMIT),
            ("grpc.so_reuseport", 0),
            ("grpc.max_concurrent_streams", _STREAMS_PER_CONNECTION),
            ("grpc.max_connection_idle_ms", _IDLE_CONNECTION_MS),
            ("grpc.max_allowed_incoming_connections", MAX_CONNECTIONS),
        ],
    )
    queue = RequestQueue(settings.max_queue, settings.owner_slots)
    streams = IdleStreams(settings.stream_idle_timeout)
    calls = _build_calls(
        settings,
        route,
        Storage(spool, blobs, store, contents),
        tracker,
        tokens,
        pool,
        queue,
        metrics,
    )
    claims = await _claim_loop(settings, store, tracker, route, calls.compress, metrics)
    _add_servicers(server, calls, streams)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    serving = ServingHealth(health, SERVICE_NAMES[:4], pool, store)
    reflection.enable(SERVICE_NAMES, server)
    try:
        port = _listen(server, settings, credentials)
        http, exposition = (
            _http_server(settings, calls, gate, metrics, serving),
            _metrics_server(settings, metrics),
        )
    except SettingsError:
        await pool.close()
        raise
    await server.start()
    claims.start()
    depth = _queue_depth(exposition, store, route, metrics)
    await serving.start()
    print(f"pixpress listening on {display_address(settings.host, port)}", flush=True)
    await _start_http(http, exposition, settings.host)
    await _log_start(settings, route, credentials, store)

    await stop.wait()
    logger.info(
        "shutting down: draining in-flight requests for up to %.0fs", settings.shutdown_grace
    )
    await drain_then_stop(
        server,
        settings.shutdown_grace,
        serving,
        drain_gate,
        calls.compress.drain(settings.shutdown_grace),
        queue.drained(),
        streams.settled(),
        *([] if http is None else [http.stop()]),
    )
    await sweeper.stop()
    await pool.close()
    await _stop_metrics(exposition, depth)  # last: a scrape during the drain still sees them
    await store.close()
    logger.info("stopped")


async def _log_start(
    settings: Settings,
    route: Route,
    credentials: grpc.ServerCredentials | None,
    store: Store,
) -> None:
    logger.info(
        "route=%s (%s) auth=%s workers=%d memory_budget=%d max_input_bytes=%d data_dir=%s",
        route.identifier,
        route.visibility,
        "off" if settings.insecure_no_auth else "api-keys",
        settings.workers,
        settings.memory_budget,
        settings.max_input_bytes,
        settings.data_dir,
    )
    logger.info(
        "tls=%s rate_limit=%s/s per key (burst %d) max_auth_failures=%d per client per minute "
        "trusted_proxies=%s",
        "off" if credentials is None else "mutual" if settings.tls_client_ca else "on",
        settings.rate_limit or "off",
        settings.rate_burst,
        settings.max_auth_failures,
        settings.trusted_proxies,
    )
    _log_blobs(settings)
    if not settings.insecure_no_auth and not await store.list_keys():
        where = "--store URL" if settings.store else f"--data-dir {settings.data_dir}"
        logger.warning(
            "no API keys yet: create one with `pixpress-server keys create --owner NAME %s`", where
        )


def _log_blobs(settings: Settings) -> None:
    """Where asset bytes live; a warning when the store is shared but they are not."""
    logger.info("asset bytes in %s", settings.blob_url or settings.blob_dir)
    if (
        settings.store
        and not settings.blob_url
        and settings.blob_dir == settings.data_dir / "blobs"
    ):
        logger.warning(
            "the store is shared (--store) but asset bytes stay in this replica's %s: other "
            "replicas cannot serve them; give every replica the same --blob-dir on a shared "
            "mount, or --blob-url",
            settings.blob_dir,
        )


@dataclass(frozen=True, slots=True)
class Storage:
    """Where request bytes are staged, asset bytes kept, and records stored."""

    spool: Spool
    blobs: Blobs
    store: Store
    contents: Contents


@dataclass(frozen=True, slots=True)
class Calls:
    """The domain calls both edges make."""

    compress: CompressCalls
    assets: AssetCalls
    actions: ActionCalls
    routes: RouteCalls


def _build_calls(
    settings: Settings,
    route: Route,
    storage: Storage,
    tracker: ActionTracker,
    tokens: PageTokens,
    pool: WorkerPool,
    queue: RequestQueue,
    metrics: Metrics,
) -> Calls:
    budget = MemoryBudget(settings.memory_budget)
    compressor = Compressor(
        Limits(max_pixels=settings.max_pixels, max_frames=settings.max_frames),
        pool,
        budget,
        storage.blobs,
        storage.contents,
        tracker,
    )
    compressor.on_done(metrics.compressed)
    metrics.watch(queue, budget, pool)
    compress = CompressCalls(
        compressor,
        tracker,
        queue,
        storage.spool,
        storage.store,
        settings.max_input_bytes,
        route,
        settings.max_pending_per_owner,
    )
    assets = AssetCalls(
        storage.store,
        storage.blobs,
        storage.spool,
        queue,
        settings.max_input_bytes,
        storage.contents,
        route,
    )
    routes = RouteCalls(route)
    return Calls(compress, assets, ActionCalls(tracker, storage.store, tokens, routes), routes)


def _add_servicers(server: grpc.aio.Server, calls: Calls, streams: IdleStreams) -> None:
    compress_pb2_grpc.add_CompressServiceServicer_to_server(
        CompressServicer(calls.compress, streams), server
    )
    assets_pb2_grpc.add_AssetServiceServicer_to_server(AssetServicer(calls.assets, streams), server)
    actions_pb2_grpc.add_ActionServiceServicer_to_server(ActionServicer(calls.actions), server)
    routes_pb2_grpc.add_RouteServiceServicer_to_server(RouteServicer(calls.routes), server)


def _http_server(
    settings: Settings, calls: Calls, gate: Gate | None, metrics: Metrics, health: ServingHealth
) -> HttpServer | None:
    """The HTTP edge over the same calls, its port bound now; None with --http-port off."""
    if settings.http_port is None:
        return None
    sock = bind(settings.host, settings.http_port)
    edge = Edge(
        calls.compress,
        calls.assets,
        calls.actions,
        calls.routes,
        gate,
        settings.stream_idle_timeout,
        settings.trusted_proxies,
    )
    app = build_app(edge, __version__, health)
    app.add_middleware(MeteredHttp, record=functools.partial(metrics.request, EdgeName.HTTP))
    return HttpServer(app, settings, sock)


async def _claim_loop(
    settings: Settings,
    store: Store,
    tracker: ActionTracker,
    route: Route,
    compress: CompressCalls,
    metrics: Metrics,
) -> ClaimLoop:
    """The replica's share of the background work queue, counted in the lease metrics; what
    can never run again (streamed work of a dead replica) is FAILED first."""
    # On SQLite this is the only replica: what a previous run left unfinished can't be running.
    recovered = await tracker.recover(alone=not settings.store)
    if recovered:
        logger.warning("%d actions were unfinished when the server last stopped: FAILED", recovered)
    slots = settings.workers if settings.background_slots is None else settings.background_slots
    claims = ClaimLoop(
        store, tracker, route.id, slots, compress.run_claimed, alone=not settings.store
    )
    claims.on_lease(metrics.lease_taken, metrics.lease_expired)
    metrics.watch_claims(claims)
    compress.serve_queue(claims)
    return claims


def _metrics(pool: WorkerPool, tracker: ActionTracker) -> Metrics:
    """The replica's metrics, told of worker restarts and of actions ending."""
    metrics = Metrics()
    pool.on_restart(metrics.worker_restarted)
    tracker.on_end(metrics.action_ended)
    return metrics


async def _start_http(http: HttpServer | None, exposition: MetricsServer | None, host: str) -> None:
    """Start the HTTP API, then /metrics, each printing where it listens."""
    if http is not None:
        await http.start()
        print(f"pixpress http on {display_address(host, http.port)}", flush=True)
    if exposition is not None:
        await exposition.start()
        print(f"pixpress metrics on {display_address(host, exposition.port)}", flush=True)


def _queue_depth(
    exposition: MetricsServer | None, store: Store, route: Route, metrics: Metrics
) -> QueueDepth | None:
    """The background queue's store-wide depth, read on a timer; None with /metrics off."""
    if exposition is None:
        return None
    depth = QueueDepth(store, route.id, metrics.background_depth)
    depth.start()
    return depth


async def _stop_metrics(exposition: MetricsServer | None, depth: QueueDepth | None) -> None:
    if exposition is not None:
        await exposition.stop()
    if depth is not None:
        await depth.stop()


def _metrics_server(settings: Settings, metrics: Metrics) -> MetricsServer | None:
    """/metrics on its own port, bound now; None with --metrics-port off (the default)."""
    if settings.metrics_port is None:
        return None
    return MetricsServer(metrics.registry, settings.host, settings.metrics_port)


def _listen(
    server: grpc.aio.Server, settings: Settings, credentials: grpc.ServerCredentials | None
) -> int:
    """Bind the port (TLS when credentials are given); the port bound."""
    listen = display_address(settings.host, settings.port)
    try:
        if credentials is None:
            return server.add_insecure_port(listen)
        return server.add_secure_port(listen, credentials)
    except RuntimeError as error:
        raise SettingsError(f"cannot listen on {listen}: {error}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pixpress-server",
        description="Serve pixpress: compress an image while maintaining its current format. "
        "`pixpress-server keys --help` manages API keys; `pixpress-server gc --help` applies "
        "retention once; `pixpress-server migrate --help` updates the store's schema.",
    )
    settings_module.add_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    restrict_new_files()  # the data dir holds every tenant's images and key hashes
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] == ["keys"]:
        keys_parser = argparse.ArgumentParser(prog="pixpress-server")
        key_commands.add_parser(keys_parser.add_subparsers(dest="command", required=True))
        return key_commands.run(keys_parser.parse_args(arguments))
    if arguments[:1] == ["gc"]:
        return gc_command.main(arguments[1:])
    if arguments[:1] == ["migrate"]:
        return migrate_command.main(arguments[1:])
    settings = settings_module.parse(_parser(), arguments)
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
