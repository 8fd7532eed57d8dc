"""Connection settings shared by Client and AsyncClient: target, API key, limits, metadata."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pixpress._errors import InvalidOptionsError
from pixpress._targets import ChannelTarget, channel_target
from pixpress._tls import CertificateSource, Tls, resolve_tls
from pixpress._validation import check_int_between

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_TARGET",
    "MAX_CHUNK_SIZE",
    "Settings",
    "call_metadata",
    "channel_options",
    "check_api_key",
    "resolve_api_key",
    "resolve_target",
    "validate_chunk_size",
]

DEFAULT_TARGET = "localhost:50051"
TARGET_ENV = "PIXPRESS_SERVER"
API_KEY_ENV = "PIXPRESS_API_KEY"

KIB = 1024
MIB = 1024 * KIB
DEFAULT_CHUNK_SIZE = 256 * KIB
# Room for the protobuf framing around one chunk. Every message stays within gRPC's default
# 4 MiB so a server with default limits accepts any chunk size we allow.
MESSAGE_HEADROOM = 64 * KIB
MAX_CHUNK_SIZE = 4 * MIB - MESSAGE_HEADROOM
# The contract caps response chunks at 1 MiB.
MAX_RESPONSE_CHUNK = 1 * MIB


def resolve_target(
    target: str | Sequence[str] | None, environ: Mapping[str, str] = os.environ
) -> str:
    """The argument (a sequence joined with commas), else $PIXPRESS_SERVER, else
    localhost:50051."""
    if target is not None and not isinstance(target, str):
        if not target:
            raise InvalidOptionsError("Expected at least one server but received an empty list")
        target = ",".join(target)
    return target or environ.get(TARGET_ENV) or DEFAULT_TARGET


def _flaw(character: str) -> str | None:
    if character.isspace():
        return "whitespace"
    if not character.isascii():
        return "a non-ASCII character"
    if not character.isprintable():
        return "a control character"
    return None


def check_api_key(api_key: object, source: str, *, strip: bool = False) -> str:
    """Return `api_key` (stripped first if asked) if it can go in a header: printable ASCII
    without spaces. The error names the flaw, its position and `source`, never the key."""
    if not isinstance(api_key, str):
        raise InvalidOptionsError(
            f"Expected a string for the API key ({source}) but received {type(api_key).__name__}"
        )
    if strip:
        api_key = api_key.strip()
    for position, character in enumerate(api_key, start=1):
        flaw = _flaw(character)
        if flaw is not None:
            raise InvalidOptionsError(
                f"The API key from {source} contains {flaw} at character {position} of "
                f"{len(api_key)}: an API key is printable ASCII without spaces"
            )
    return api_key


def resolve_api_key(api_key: str | None, environ: Mapping[str, str] = os.environ) -> str | None:
    """The argument, else $PIXPRESS_API_KEY, else None (no authorization metadata).

    Whitespace around the key (a newline captured by `$(...)`, say) is dropped; whitespace
    or a control character left inside raises InvalidOptionsError.
    """
    if api_key is not None:
        argument = check_api_key(api_key, "the api_key argument", strip=True)
        if argument:
            return argument
    from_env = environ.get(API_KEY_ENV, "").strip()
    return check_api_key(from_env, API_KEY_ENV) if from_env else None


def call_metadata(api_key: str | None) -> tuple[tuple[str, str], ...]:
    """Metadata sent on every call: `authorization: Bearer <key>` when a key is set."""
    return (("authorization", f"Bearer {api_key}"),) if api_key else ()


def validate_chunk_size(chunk_size: int) -> int:
    """Reject chunk sizes that are not an int in 1..MAX_CHUNK_SIZE (InvalidOptionsError)."""
    return check_int_between("chunk_size", chunk_size, 1, MAX_CHUNK_SIZE)


def channel_options(chunk_size: int) -> list[tuple[str, int | str]]:
    """Message size limits a little above the largest message either side sends."""
    return [
        ("grpc.max_send_message_length", chunk_size + MESSAGE_HEADROOM),
        (
            "grpc.max_receive_message_length",
            max(chunk_size, MAX_RESPONSE_CHUNK) + MESSAGE_HEADROOM,
        ),
    ]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything a client decides once at construction, shared by Client and AsyncClient."""

    target: str
    channel: ChannelTarget
    chunk_size: int
    timeout: float | None
    metadata: tuple[tuple[str, str], ...]
    tls: Tls

    @classmethod
    def resolve(
        cls,
        target: str | Sequence[str] | None,
        *,
        api_key: str | None,
        chunk_size: int,
        timeout: float | None,
        tls: bool | None = None,
        root_certificates: CertificateSource | None = None,
        environ: Mapping[str, str] = os.environ,
    ) -> Settings:
        """Apply the env fallbacks and validate; raises InvalidOptionsError for a bad
        target, chunk_size, API key or CA certificate."""
        resolved = resolve_target(target, environ)
        return cls(
            target=resolved,
            channel=channel_target(resolved),
            chunk_size=validate_chunk_size(chunk_size),
            timeout=timeout,
            metadata=call_metadata(resolve_api_key(api_key, environ)),
            tls=resolve_tls(tls, root_certificates, environ),
        )

    @property
    def channel_options(self) -> list[tuple[str, int | str]]:
        """gRPC channel options: message limits for this chunk size, and the balancing."""
        return [*channel_options(self.chunk_size), *self.channel.channel_options]

    def call_timeout(self, timeout: float | None) -> float | None:
        """The per-call timeout if given, else the client's."""
        return self.timeout if timeout is None else timeout
