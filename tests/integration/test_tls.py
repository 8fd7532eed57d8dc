"""TLS through a real server, with certificates made at test time (trustme): TLS works, a
plaintext client fails, mutual TLS refuses a client without a certificate, and bad TLS
files stop the server at start with a message naming the flag."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
import trustme
from pixpress.v1 import routes_pb2

from tests.integration.pki import Pki, make_pki
from tests.integration.server_process import ServerProcess, create_key, start_server

GET_ROUTE = "/pixpress.v1.RouteService/GetRoute"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _tls_args(pki: Pki) -> list[str]:
    return ["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)]


def _started(data_dir: Path, args: list[str]) -> tuple[ServerProcess, str]:
    process = start_server(data_dir, ["--workers", "1", *args])
    return process, create_key(data_dir, "alice")


@pytest.fixture(scope="module")
def tls_server(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    process, key = _started(tmp_path_factory.mktemp("tls"), _tls_args(pki))
    yield process, key
    assert process.stop() == 0, process.log


@pytest.fixture(scope="module")
def mtls_server(
    pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, str]]:
    args = [*_tls_args(pki), "--tls-client-ca", str(pki.client_ca)]
    process, key = _started(tmp_path_factory.mktemp("mtls"), args)
    yield process, key
    assert process.stop() == 0, process.log


def _get_route(channel: grpc.Channel, key: str) -> routes_pb2.Route:
    call = channel.unary_unary(
        GET_ROUTE,
        request_serializer=routes_pb2.GetRouteRequest.SerializeToString,
        response_deserializer=routes_pb2.Route.FromString,
    )
    request = routes_pb2.GetRouteRequest(route="pixpress/compress-an-image")
    reply: routes_pb2.Route = call(
        request, timeout=20, metadata=(("authorization", f"Bearer {key}"),)
    )
    return reply


def _secure(address: str, credentials: grpc.ChannelCredentials) -> grpc.Channel:
    return grpc.secure_channel(address, credentials)


def test_tls_serves_a_client_that_trusts_the_ca(
    pki: Pki, tls_server: tuple[ServerProcess, str]
) -> None:
    process, key = tls_server
    assert process.address.startswith("127.0.0.1:")  # the listening line is unchanged
    with _secure(process.address, grpc.ssl_channel_credentials(pki.ca.read_bytes())) as channel:
        assert _get_route(channel, key).name == "compress-an-image"


def test_tls_refuses_a_plaintext_client(tls_server: tuple[ServerProcess, str]) -> None:
    process, key = tls_server
    with grpc.insecure_channel(process.address) as channel, pytest.raises(grpc.RpcError) as raised:
        _get_route(channel, key)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_tls_is_refused_by_a_client_that_does_not_trust_the_ca(
    tls_server: tuple[ServerProcess, str],
) -> None:
    process, key = tls_server
    stranger = trustme.CA().cert_pem.bytes()
    credentials = grpc.ssl_channel_credentials(stranger)
    with _secure(process.address, credentials) as channel, pytest.raises(grpc.RpcError) as raised:
        _get_route(channel, key)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_needs_a_client_certificate(
    pki: Pki, mtls_server: tuple[ServerProcess, str]
) -> None:
    process, key = mtls_server
    no_cert = grpc.ssl_channel_credentials(pki.ca.read_bytes())
    with _secure(process.address, no_cert) as channel, pytest.raises(grpc.RpcError) as raised:
        _get_route(channel, key)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE
    with_cert = grpc.ssl_channel_credentials(
        pki.ca.read_bytes(), pki.client_key.read_bytes(), pki.client_cert.read_bytes()
    )
    with _secure(process.address, with_cert) as channel:
        assert _get_route(channel, key).name == "compress-an-image"


def test_mutual_tls_refuses_a_certificate_from_another_ca(
    pki: Pki, mtls_server: tuple[ServerProcess, str]
) -> None:
    process, key = mtls_server
    other = trustme.CA().issue_cert("intruder@example.com")
    credentials = grpc.ssl_channel_credentials(
        pki.ca.read_bytes(), other.private_key_pem.bytes(), other.cert_chain_pems[0].bytes()
    )
    with _secure(process.address, credentials) as channel, pytest.raises(grpc.RpcError) as raised:
        _get_route(channel, key)
    assert raised.value.code() == grpc.StatusCode.UNAVAILABLE


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--tls-cert", "{missing}", "--tls-key", "{key}"], "--tls-cert: cannot read"),
        (["--tls-cert", "{cert}", "--tls-key", "{cert_dir}"], "--tls-key: cannot read"),
        (
            ["--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-client-ca", "{notes}"],
            "--tls-client-ca: ",
        ),
    ],
)
def test_bad_tls_files_stop_the_server_with_a_message_naming_the_flag(
    pki: Pki, tmp_path: Path, flags: list[str], message: str
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a PEM file\n")
    values = {
        "missing": str(tmp_path / "missing.pem"),
        "key": str(pki.server_key),
        "cert": str(pki.server_cert),
        "cert_dir": str(pki.server_cert.parent),
        "notes": str(notes),
    }
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pixpress_server.main",
            "--port",
            "0",
            "--data-dir",
            str(tmp_path / "data"),
            *(flag.format(**values) for flag in flags),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={name: value for name, value in os.environ.items() if not name.startswith("PIXPRESS_")},
    )
    assert completed.returncode == 2, completed.stderr
    assert f"pixpress-server: {message}" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "listening" not in completed.stdout
