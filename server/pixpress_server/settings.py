"""Every server default in one place; each `--flag` is also the env var `PIXPRESS_<FLAG>`.

The command line wins over the environment, which wins over the defaults below.
"""

from __future__ import annotations

import argparse
import logging
import os
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

from pixpress_server.client_address import TRUST_NOBODY, TrustedProxies, trusted_proxies
from pixpress_server.processing.model import DEFAULT_THREADS_PER_WORKER

MIB = 1024 * 1024
ENV_PREFIX = "PIXPRESS_"


def machine_memory_bytes() -> int:
    """Physical memory, or the cgroup limit when one is set and smaller."""
    total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:
        raw = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(raw)) if raw.isdigit() else total


# No path a user can give (NUL is never in one): blob_dir then follows data_dir.
_DERIVED_BLOB_DIR = Path("\0data_dir/blobs")


@dataclass(frozen=True, slots=True)
class Settings:
    """The server's configuration, validated."""

    host: str = "127.0.0.1"
    port: int = 50051
    http_port: int | None = 8080  # the HTTP/JSON API and the web page; None: off
    metrics_port: int | None = None  # Prometheus /metrics of this replica; None: off
    workers: int = os.cpu_count() or 1
    background_slots: int | None = None  # background actions worked on at once; None: workers
    lease_seconds: float = 30.0  # a background action's lease without a heartbeat
    # A watcher re-reads its action this often: the bound when a change notification is lost.
    watch_refresh_seconds: float = 5.0
    threads_per_worker: int = DEFAULT_THREADS_PER_WORKER
    max_input_bytes: int = 256 * MIB
    max_pixels: int = 268_402_689  # 16383 x 16383, sharp's limitInputPixels
    max_frames: int = 1000
    # Optimised encoders hold the whole image (or its JPEG coefficients): admit requests
    # against this many bytes of estimated worker memory. Default: half the machine.
    memory_budget: int = machine_memory_bytes() // 2
    max_queue: int = 256
    data_dir: Path = Path(".pixpress")
    # Asset bytes: a directory (a shared mount for replicas) or s3://bucket/prefix, not both.
    blob_dir: Path = _DERIVED_BLOB_DIR  # default: data_dir/blobs
    blob_url: str | None = None
    store: str | None = None  # a postgresql:// URL shared by replicas; None: SQLite in data_dir
    log_level: str = "INFO"
    shutdown_grace: float = 30.0
    insecure_no_auth: bool = False
    route_owner: str = "pixpress"
    route_visibility: str = "public"
    route_id: str | None = None  # None: derived from the identifier, the same everywhere
    # Exposure: TLS (and mutual TLS when a client CA is given).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_client_ca: Path | None = None
    # Quotas and rate limits: no single key or owner may fill the disk or take every slot.
    max_storage_per_owner: int = 10 * 1024 * MIB
    rate_limit: float = 100.0  # requests per second per API key (0 turns it off)
    rate_burst: int = 200  # requests a key may send at once before the rate applies
    # Queue slots one owner may hold at once; None means a quarter of max_queue (at least 1).
    max_slots_per_owner: int | None = None
    # Background actions (queued or running) one owner may have at once, on every replica
    # together: far more than a batch needs in flight, few enough that one owner's backlog
    # stays minutes of work and the queue the claims read stays small.
    max_pending_per_owner: int = 1000
    max_auth_failures: int = 30  # failed authentications per client address per minute
    # Load balancers whose X-Forwarded-For names the client (empty: trust nobody's header).
    trusted_proxies: TrustedProxies = TRUST_NOBODY
    # An upload or download that makes no progress for this long is ended: a slow mobile
    # link still moves a 256 KiB chunk in well under a minute, a stalled client never does.
    stream_idle_timeout: float = 60.0
    # Retention (None keeps everything): finished actions, and stored outputs of actions.
    action_retention: float | None = None
    output_retention: float | None = None

    def __post_init__(self) -> None:
        if self.blob_dir == _DERIVED_BLOB_DIR:
            object.__setattr__(self, "blob_dir", self.data_dir / "blobs")

    @property
    def owner_slots(self) -> int:
        """Queue slots one owner may hold at once."""
        if self.max_slots_per_owner is not None:
            return self.max_slots_per_owner
        return max(1, self.max_queue // 4)

    @property
    def spool_dir(self) -> Path:
        """Where request and response bytes are staged on disk, never whole in memory."""
        return self.data_dir / "tmp"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "pixpress.db"

    @property
    def secret_path(self) -> Path:
        """The server's signing secret (page tokens), created on first start."""
        return self.data_dir / "secret"


def _byte_size(text: str) -> int:
    """Parse 256MiB, 1GiB, 512k or a plain number of bytes."""
    units = {"k": 1024, "m": MIB, "g": 1024 * MIB, "t": 1024 * 1024 * MIB}
    cleaned = text.strip().lower().removesuffix("b").removesuffix("i")
    if cleaned and cleaned[-1] in units:
        return int(float(cleaned[:-1]) * units[cleaned[-1]])
    return int(cleaned)


_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration(text: str) -> float:
    """Parse 90s, 15m, 12h, 30d, 2w or a plain number of seconds (more than 0)."""
    cleaned = text.strip().lower()
    unit = cleaned[-1:] if cleaned[-1:] in _DURATION_UNITS else "s"
    number = cleaned.removesuffix(unit) if cleaned[-1:] in _DURATION_UNITS else cleaned
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        raise ValueError("expected a duration such as 90s, 15m, 12h or 30d") from None
    if not seconds > 0:
        raise ValueError("expected a duration above 0")
    return seconds


def _optional_duration(text: str) -> float | None:
    """A duration, or None for off/none/never."""
    if text.strip().lower() in {"off", "none", "never", ""}:
        return None
    return duration(text)


def _log_level(text: str) -> str:
    level = text.upper()
    if level not in logging.getLevelNamesMapping():
        raise ValueError(f"expected one of DEBUG, INFO, WARNING, ERROR but received {text!r}")
    return level


def _boolean(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _port_or_off(text: str) -> int | None:
    """A TCP port (0 picks a free one), or None for off."""
    if text.strip().lower() in {"off", "none", "false", "no"}:
        return None
    port = int(text)
    if not 0 <= port <= 65535:
        raise ValueError("expected a port from 0 to 65535, or off")
    return port


def _owner_name(text: str) -> str:
    if not text or "/" in text or text != text.strip():
        raise ValueError("expected a name without '/' or surrounding spaces")
    return text


def _uuid(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise ValueError("expected a UUID such as 6e8bf803-009e-4ccc-b968-09366eba9fcc") from None


def store_url(text: str) -> str:
    """A PostgreSQL connection URL: the value of --store."""
    if not text.startswith(("postgresql://", "postgres://")):
        raise ValueError("expected a URL such as postgresql://user@host:5432/pixpress")
    return text


def _blob_url(text: str) -> str:
    """Where asset bytes live: s3://BUCKET/PREFIX (endpoint and credentials from AWS_*)."""
    if not text.startswith("s3://") or not text.removeprefix("s3://").partition("/")[0]:
        raise ValueError("expected s3://BUCKET/PREFIX")
    return text


def _directory(text: str) -> Path:
    if not text.strip():
        raise ValueError("expected a directory path")
    return Path(text)


def _visibility(text: str) -> str:
    if text not in {"public", "private"}:
        raise ValueError("expected public or private")
    return text


@dataclass(frozen=True, slots=True)
class _Flag:
    parse: Callable[[str], object]
    help: str
    minimum: int | None = None
    switch: bool = False  # a flag without a value (`--insecure-no-auth`)


_FLAGS: Mapping[str, _Flag] = {
    "host": _Flag(str, "address to bind"),
    "port": _Flag(int, "port to bind (0 picks a free port)", minimum=0),
    "http_port": _Flag(
        _port_or_off, "HTTP/JSON API and web page port (0 picks a free port; off disables it)"
    ),
    "metrics_port": _Flag(_port_or_off, "Prometheus /metrics port (0 picks a free port; off)"),
    "workers": _Flag(int, "worker processes doing the image work", minimum=1),
    "background_slots": _Flag(
        int,
        "queued background actions this replica works on at once (default --workers)",
        minimum=0,
    ),
    "lease_seconds": _Flag(
        float, "seconds a dead replica's background actions stay leased to it", minimum=1
    ),
    "watch_refresh_seconds": _Flag(
        float,
        "seconds between a watcher's re-reads of its action (beside notifications)",
        minimum=1,
    ),
    "threads_per_worker": _Flag(int, "libvips and oxipng threads in each worker", minimum=1),
    "max_input_bytes": _Flag(_byte_size, "largest accepted input (e.g. 256MiB)", minimum=1),
    "max_pixels": _Flag(int, "largest accepted width x height of one frame", minimum=1),
    "max_frames": _Flag(int, "most frames accepted in an animation", minimum=1),
    "memory_budget": _Flag(_byte_size, "estimated worker memory admitted at once", minimum=1),
    "max_queue": _Flag(
        int, "requests allowed to wait for room before RESOURCE_EXHAUSTED", minimum=1
    ),
    "data_dir": _Flag(Path, "where pixpress keeps its data (spool files, store)"),
    "blob_dir": _Flag(
        _directory,
        "directory of the asset bytes, e.g. a mount replicas share (default: DATA_DIR/blobs)",
    ),
    "blob_url": _Flag(_blob_url, "s3://BUCKET/PREFIX for asset bytes, instead of --blob-dir"),
    "store": _Flag(store_url, "PostgreSQL URL of the store replicas share (default: SQLite file)"),
    "log_level": _Flag(_log_level, "DEBUG, INFO, WARNING or ERROR"),
    "shutdown_grace": _Flag(
        float, "seconds in-flight requests get to finish on SIGTERM", minimum=0
    ),
    "insecure_no_auth": _Flag(
        _boolean,
        "serve without API keys (every caller is 'anonymous'); local use only",
        switch=True,
    ),
    "route_owner": _Flag(_owner_name, "owner namespace of the route (OWNER/compress-an-image)"),
    "route_visibility": _Flag(_visibility, "public, or private (only the route owner's keys)"),
    "route_id": _Flag(_uuid, "the route's id (default: derived from OWNER/compress-an-image)"),
    "tls_cert": _Flag(Path, "PEM certificate chain: serve TLS (needs --tls-key)"),
    "tls_key": _Flag(Path, "PEM private key of --tls-cert"),
    "tls_client_ca": _Flag(
        Path, "PEM CA bundle: require client certificates it signed (mutual TLS)"
    ),
    "max_storage_per_owner": _Flag(
        _byte_size, "bytes of stored assets one owner may keep (e.g. 10GiB)", minimum=1
    ),
    "rate_limit": _Flag(float, "requests per second per API key (0: no limit)", minimum=0),
    "rate_burst": _Flag(int, "requests a key may send at once above --rate-limit", minimum=1),
    "max_slots_per_owner": _Flag(
        int, "queue slots one owner may hold at once (default: a quarter of --max-queue)", minimum=1
    ),
    "max_pending_per_owner": _Flag(
        int, "background actions one owner may have queued or running at once", minimum=1
    ),
    "max_auth_failures": _Flag(
        int, "failed authentications allowed per client address per minute", minimum=1
    ),
    "trusted_proxies": _Flag(
        trusted_proxies, "CIDR[,CIDR...] of proxies whose X-Forwarded-For names the client"
    ),
    "stream_idle_timeout": _Flag(
        duration, "end an upload or download that makes no progress for this long"
    ),
    "action_retention": _Flag(
        _optional_duration, "delete finished actions older than this (e.g. 30d; default off)"
    ),
    "output_retention": _Flag(
        _optional_duration, "delete stored outputs older than this (e.g. 7d; default off)"
    ),
}


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def flag_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


class SettingsError(ValueError):
    """A configuration value is wrong; the message names the flag and env var."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one --flag per setting; values stay strings until `load` validates them."""
    defaults = Settings()
    for name, flag in _FLAGS.items():
        help_text = f"{flag.help} [env {env_name(name)}; default {getattr(defaults, name)}]"
        if flag.switch:
            parser.add_argument(
                flag_name(name), dest=name, action="store_const", const="true", help=help_text
            )
        else:
            _add_valued(parser, name, help_text)


def add_some_arguments(parser: argparse.ArgumentParser, helps: Mapping[str, str]) -> None:
    """Add the --flags of a subcommand's few settings, each with the help given here."""
    for name, text in helps.items():
        _add_valued(parser, name, f"{text} [env {env_name(name)}]")


def _add_valued(parser: argparse.ArgumentParser, name: str, help_text: str) -> None:
    parser.add_argument(
        flag_name(name), dest=name, default=None, metavar=name.upper(), help=help_text
    )


def parse(parser: argparse.ArgumentParser, arguments: Sequence[str]) -> Settings:
    """Settings from the command line `parser` reads; a wrong value exits with the usage, as
    argparse's own errors do."""
    try:
        return load(parser.parse_args(arguments))
    except SettingsError as error:
        parser.error(str(error))


def load(arguments: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    """Build Settings from parsed flags, then env vars, then defaults."""
    values: dict[str, object] = {}
    for field in fields(Settings):
        flag = _FLAGS[field.name]
        raw = getattr(arguments, field.name, None)
        source = flag_name(field.name)
        if raw is None:
            raw = environ.get(env_name(field.name))
            source = env_name(field.name)
        if raw is None:
            continue
        try:
            value = flag.parse(raw)
        except ValueError as error:
            raise SettingsError(f"{source}: invalid value {raw!r}: {error}") from None
        if flag.minimum is not None and isinstance(value, int | float) and value < flag.minimum:
            raise SettingsError(f"{source}: expected at least {flag.minimum} but received {raw!r}")
        values[field.name] = value
    if "blob_dir" in values and "blob_url" in values:
        raise SettingsError(
            "--blob-dir and --blob-url exclude each other: asset bytes live in a directory "
            "or in an S3 bucket, give one"
        )
    settings = Settings(**values)  # type: ignore[arg-type]
    if (settings.tls_cert is None) != (settings.tls_key is None):
        raise SettingsError("--tls-cert and --tls-key go together: give both or neither")
    if settings.tls_client_ca is not None and settings.tls_cert is None:
        raise SettingsError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS)")
    return settings
