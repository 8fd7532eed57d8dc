"""TLS options of Client/AsyncClient (tls=, root_certificates=, $PIXPRESS_TLS_CA), resolved and
then used against the echo server serving TLS with a certificate made by trustme."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pixpress
import pytest
import trustme
from pixpress._tls import Tls, resolve_tls
from pixpress.v1 import compress_pb2_grpc

from tests.unit.client_echo_server import EchoServicer


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_pem(ca: trustme.CA) -> bytes:
    return ca.cert_pem.bytes()


@pytest.fixture
def ca_file(tmp_path: Path, ca_pem: bytes) -> Path:
    path = tmp_path / "ca.pem"
    path.write_bytes(ca_pem)
    return path


# resolution


def test_plaintext_by_default():
    assert resolve_tls(None, None, {}) == Tls(False)


def test_tls_alone_trusts_the_system_roots():
    assert resolve_tls(True, None, {}) == Tls(True, None)


def test_root_certificates_as_bytes_text_or_path_imply_tls(ca_pem, ca_file):
    for given in (ca_pem, ca_pem.decode(), ca_file, str(ca_file)):
        assert resolve_tls(None, given, {}) == Tls(True, ca_pem)
        assert resolve_tls(True, given, {}) == Tls(True, ca_pem)


def test_the_env_ca_implies_tls_and_the_argument_wins(ca_pem, ca_file, tmp_path):
    environ = {"PIXPRESS_TLS_CA": str(ca_file)}
    assert resolve_tls(None, None, environ) == Tls(True, ca_pem)
    assert resolve_tls(True, None, environ) == Tls(True, ca_pem)
    assert resolve_tls(False, None, environ) == Tls(False)  # explicit plaintext
    other = tmp_path / "other.pem"
    other.write_bytes(b"-----BEGIN CERTIFICATE-----\nother\n-----END CERTIFICATE-----\n")
    assert resolve_tls(None, other, environ) == Tls(True, other.read_bytes())
    assert resolve_tls(None, None, {"PIXPRESS_TLS_CA": " "}) == Tls(False)


@pytest.mark.parametrize(
    ("tls", "root_certificates", "environ", "message"),
    [
        (False, b"-----BEGIN CERTIFICATE-----", {}, "root_certificates needs TLS"),
        ("yes", None, {}, "Expected boolean for tls but received 'yes'"),
        (None, b"not pem", {}, "Expected PEM certificates .* in root_certificates"),
        (None, "/no/such/ca.pem", {}, "Cannot read the CA certificates of root_certificates at"),
        (None, None, {"PIXPRESS_TLS_CA": "/no/such/ca.pem"}, "of PIXPRESS_TLS_CA at /no/such"),
        (None, 42, {}, "Expected PEM bytes or a path for root_certificates but received 42"),
    ],
)
def test_bad_tls_options(tls, root_certificates, environ, message):
    with pytest.raises(pixpress.InvalidOptionsError, match=message) as caught:
        resolve_tls(tls, root_certificates, environ)
    assert isinstance(caught.value, ValueError)


def test_a_file_without_a_certificate_is_named(tmp_path):
    path = tmp_path / "key.pem"
    path.write_text("-----BEGIN PRIVATE KEY-----\n")
    with pytest.raises(pixpress.InvalidOptionsError, match=f"in {path} \\(PIXPRESS_TLS_CA\\)"):
        resolve_tls(None, None, {"PIXPRESS_TLS_CA": str(path)})


def test_credentials_exclude_tls_arguments(ca_pem):
    credentials = grpc.ssl_channel_credentials(ca_pem)
    with pytest.raises(pixpress.InvalidOptionsError, match="credentials or tls"):
        pixpress.Client("localhost:1", credentials=credentials, tls=True)
    with pytest.raises(pixpress.InvalidOptionsError, match="credentials or tls"):
        pixpress.Client("localhost:1", credentials=credentials, root_certificates=ca_pem)


# against a TLS server


@contextlib.contextmanager
def tls_echo_server(ca: trustme.CA) -> Iterator[str]:
    """The echo CompressService behind TLS (a certificate for localhost and 127.0.0.1)."""
    cert = ca.issue_cert("localhost", "127.0.0.1")
    key_pem = cert.private_key_pem.bytes()
    chain = b"".join(blob.bytes() for blob in cert.cert_chain_pems)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    compress_pb2_grpc.add_CompressServiceServicer_to_server(EchoServicer(), server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key_pem, chain)]))
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait()


@pytest.fixture(scope="module")
def tls_target(ca: trustme.CA) -> Iterator[str]:
    with tls_echo_server(ca) as target:
        yield target


def test_client_with_the_ca_compresses_over_tls(tls_target, ca_pem, ca_file, monkeypatch):
    monkeypatch.delenv("PIXPRESS_TLS_CA", raising=False)
    with pixpress.Client(tls_target, root_certificates=ca_pem, timeout=30) as client:
        assert client.compress(b"abc").data == b"cba"
    with pixpress.Client(tls_target, root_certificates=ca_file, timeout=30) as client:
        assert client.compress(b"abc").data == b"cba"
    monkeypatch.setenv("PIXPRESS_TLS_CA", str(ca_file))
    with pixpress.Client(tls_target, timeout=30) as client:
        assert client.compress(b"abc").data == b"cba"


def test_credentials_still_work(tls_target, ca_pem):
    credentials = grpc.ssl_channel_credentials(ca_pem)
    with pixpress.Client(tls_target, credentials=credentials, timeout=30) as client:
        assert client.compress(b"abc").data == b"cba"


def test_plaintext_or_the_wrong_ca_cannot_talk_to_a_tls_server(tls_target, monkeypatch):
    monkeypatch.delenv("PIXPRESS_TLS_CA", raising=False)
    stranger = trustme.CA().cert_pem.bytes()
    for client in (
        pixpress.Client(tls_target, timeout=10),
        pixpress.Client(tls_target, root_certificates=stranger, timeout=10),
        pixpress.Client(tls_target, tls=True, timeout=10),  # system roots do not know it
    ):
        with client, pytest.raises(pixpress.UnavailableError):
            client.compress(b"abc")


async def test_async_client_over_tls(tls_target, ca_pem, ca_file, monkeypatch):
    monkeypatch.setenv("PIXPRESS_TLS_CA", str(ca_file))
    async with pixpress.AsyncClient(tls_target, timeout=30) as client:
        assert (await client.compress(b"abc")).data == b"cba"
    async with pixpress.AsyncClient(tls_target, root_certificates=ca_pem, timeout=30) as client:
        assert (await client.compress(b"xyz")).data == b"zyx"
    async with pixpress.AsyncClient(tls_target, tls=False, timeout=10) as client:
        with pytest.raises(pixpress.UnavailableError):
            await client.compress(b"abc")
