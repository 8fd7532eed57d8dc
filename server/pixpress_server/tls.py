"""TLS for the server: `--tls-cert`/`--tls-key`, and mutual TLS with `--tls-client-ca`.

Files are read and checked at start (with the standard `ssl` module, which names what is
wrong), so a bad path or PEM is a startup error naming the flag, never a failed handshake.
"""

from __future__ import annotations

import ssl
from pathlib import Path

import grpc

from pixpress_server.settings import Settings, SettingsError, flag_name


def _read(field: str, path: Path) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SettingsError(f"{flag_name(field)}: cannot read {path}: {error.strerror}") from None
    if b"-----BEGIN " not in data:
        raise SettingsError(f"{flag_name(field)}: {path} is not a PEM file")
    return data


def _check_pair(cert: Path, key: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except ssl.SSLError as error:
        raise SettingsError(
            f"--tls-cert/--tls-key: {cert} and {key} are not a valid certificate chain and "
            f"its private key ({error.reason or error})"
        ) from None


def _check_ca(path: Path) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=path)
    except ssl.SSLError as error:
        raise SettingsError(
            f"{flag_name('tls_client_ca')}: {path} holds no valid CA certificate "
            f"({error.reason or error})"
        ) from None


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The credentials to serve with, or None for plaintext.

    Raises:
        SettingsError: a file cannot be read or is not what its flag expects.
    """
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    cert = _read("tls_cert", settings.tls_cert)
    key = _read("tls_key", settings.tls_key)
    _check_pair(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca is None:
        return grpc.ssl_server_credentials([(key, cert)])
    client_ca = _read("tls_client_ca", settings.tls_client_ca)
    _check_ca(settings.tls_client_ca)
    return grpc.ssl_server_credentials(
        [(key, cert)], root_certificates=client_ca, require_client_auth=True
    )
