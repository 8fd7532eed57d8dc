"""TLS for the client channel: `tls=`, `root_certificates=` and $PIXPRESS_TLS_CA resolved into
channel credentials (the system's roots unless a CA is given)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

import grpc

from pixpress._errors import InvalidOptionsError
from pixpress._validation import check_bool

__all__ = [
    "TLS_CA_ENV",
    "CertificateSource",
    "Tls",
    "channel_credentials",
    "read_certificates",
    "resolve_tls",
]

TLS_CA_ENV = "PIXPRESS_TLS_CA"
_PEM_MARKER = b"-----BEGIN CERTIFICATE-----"

CertificateSource: TypeAlias = bytes | str | os.PathLike[str]
"""PEM bytes, PEM text, or the path of a PEM file."""


@dataclass(frozen=True, slots=True)
class Tls:
    """Whether the channel uses TLS, and the CA certificates to trust (None: the system's)."""

    enabled: bool
    root_certificates: bytes | None = None


def _checked_pem(pem: bytes, source: str) -> bytes:
    if _PEM_MARKER not in pem:
        raise InvalidOptionsError(
            f"Expected PEM certificates ({_PEM_MARKER.decode()}) in {source} but found none"
        )
    return pem


def read_certificates(value: CertificateSource, source: str) -> bytes:
    """PEM bytes from bytes, PEM text or a path; `source` names where they came from (for the
    error: unreadable file, or no certificate in it)."""
    if isinstance(value, bytes):
        return _checked_pem(value, source)
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return _checked_pem(value.encode("ascii", "replace"), source)
    if not isinstance(value, str | os.PathLike):
        raise InvalidOptionsError(
            f"Expected PEM bytes or a path for {source} but received {value!r}"
        )
    path = Path(value)
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise InvalidOptionsError(
            f"Cannot read the CA certificates of {source} at {path}: {error.strerror or error}"
        ) from error
    return _checked_pem(pem, f"{path} ({source})")


def resolve_tls(
    tls: bool | None,
    root_certificates: CertificateSource | None,
    environ: Mapping[str, str] = os.environ,
) -> Tls:
    """The arguments first, then $PIXPRESS_TLS_CA (a path); a CA implies TLS.

    tls=True alone trusts the system's roots; tls=False means plaintext whatever the
    environment says, and cannot be combined with root_certificates.
    """
    if tls is not None:
        check_bool("tls", tls)
    if root_certificates is not None:
        if tls is False:
            raise InvalidOptionsError("root_certificates needs TLS: drop tls=False")
        return Tls(True, read_certificates(root_certificates, "root_certificates"))
    if tls is False:
        return Tls(False)
    path = environ.get(TLS_CA_ENV, "").strip()
    if path:
        return Tls(True, read_certificates(path, TLS_CA_ENV))
    return Tls(bool(tls))


def channel_credentials(
    tls: Tls, credentials: grpc.ChannelCredentials | None
) -> grpc.ChannelCredentials | None:
    """`credentials` when given, else TLS credentials when enabled, else None (plaintext)."""
    if credentials is not None:
        return credentials
    if not tls.enabled:
        return None
    return grpc.ssl_channel_credentials(root_certificates=tls.root_certificates)
