"""A real server on port 0, reached through the SDK (sync and async) and the CLI, plaintext and
over TLS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import trustme
from PIL import Image
from pixpress import AsyncClient, Client, CompressResult, PixpressError
from pixpress_server.processing.formats import sniff

from tests.integration.server_process import ServerProcess, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> Path:
    matches = sorted(FIXTURES.rglob(name))
    assert matches, f"no fixture {name}"
    return matches[0]


def a_jpeg() -> Path:
    return sorted(FIXTURES.rglob("*.jpg"))[0]


def a_photo_png() -> Path:
    return sorted(FIXTURES.rglob("kodim*.png"))[0]


def test_sdk_compresses_a_photo_and_keeps_its_format(address: str) -> None:
    source = a_jpeg()
    with Client(address) as client:
        result = client.compress(source, quality=70)
    assert isinstance(result, CompressResult)
    assert result.format == "jpeg"
    assert sniff(result.data[:64]) == "jpeg"
    assert result.input_size == source.stat().st_size
    assert result.output_size == len(result.data) < result.input_size
    assert result.quality == 70
    assert {stage.name for stage in result.stages} >= {"decode", "encode"}
    with Image.open(source) as original, Image.open(__import__("io").BytesIO(result.data)) as out:
        assert out.size == original.size


def test_sdk_default_quality_is_80(address: str) -> None:
    with Client(address) as client:
        result = client.compress(a_photo_png().read_bytes())
    assert result.quality == 80
    assert result.format == "png"


def test_sdk_errors_carry_the_status(address: str) -> None:
    with Client(address) as client, pytest.raises(PixpressError) as raised:
        client.compress(b"definitely not an image, just some text bytes" * 4)
    assert raised.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "unsupported format" in raised.value.message


async def test_async_client_mirrors_the_sync_one(address: str) -> None:
    async with AsyncClient(address) as client:
        result = await client.compress(a_photo_png(), quality=60)
    assert result.format == "png"
    assert result.output_size < result.input_size


def run_cli(*args: str, address: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIXPRESS_SERVER": address}
    return subprocess.run(
        [sys.executable, "-m", "pixpress.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_cli_one_file(address: str, tmp_path: Path) -> None:
    source = tmp_path / "photo.jpg"
    shutil.copy(a_jpeg(), source)
    out = tmp_path / "small.jpg"
    completed = run_cli("compress", str(source), "-q", "60", "-o", str(out), address=address)
    assert completed.returncode == 0, completed.stderr
    assert 0 < out.stat().st_size < source.stat().st_size
    assert sniff(out.read_bytes()[:64]) == "jpeg"


def test_cli_mirrors_a_tree_and_reports_failures(address: str, tmp_path: Path) -> None:
    tree = tmp_path / "in"
    (tree / "nested" / "deeper").mkdir(parents=True)
    shutil.copy(a_jpeg(), tree / "a.jpg")
    shutil.copy(a_photo_png(), tree / "nested" / "b.png")
    shutil.copy(a_jpeg(), tree / "nested" / "deeper" / "c.jpg")
    (tree / "nested" / "broken.png").write_bytes(a_photo_png().read_bytes()[:500])
    out = tmp_path / "out"
    completed = run_cli("compress", str(tree), "-o", str(out), "-j", "3", address=address)
    assert completed.returncode != 0
    assert f"{tree / 'nested' / 'broken.png'}: INVALID_ARGUMENT:" in completed.stderr
    for relative in ("a.jpg", "nested/b.png", "nested/deeper/c.jpg"):
        produced = out / relative
        assert produced.exists(), relative
        assert produced.stat().st_size <= (tree / relative).stat().st_size
    assert not (out / "nested" / "broken.png").exists()


def test_cli_all_good_exits_zero(address: str, tmp_path: Path) -> None:
    tree = tmp_path / "in"
    tree.mkdir()
    shutil.copy(a_jpeg(), tree / "a.jpg")
    shutil.copy(a_photo_png(), tree / "b.png")
    completed = run_cli("compress", str(tree), "-o", str(tmp_path / "out"), address=address)
    assert completed.returncode == 0, completed.stderr


# TLS: a server with --tls-cert/--tls-key and a CA made now, through the SDK and the CLI


@dataclass(frozen=True)
class TlsServer:
    server: ServerProcess
    key: str
    ca_file: Path

    @property
    def address(self) -> str:
        return self.server.address


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    directory = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("localhost", "127.0.0.1")
    cert, key, ca_file = directory / "cert.pem", directory / "key.pem", directory / "ca.pem"
    issued.private_key_and_cert_chain_pem.write_to_path(str(cert))
    issued.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(ca_file))
    data_dir = directory / "data"
    api_key = create_key(data_dir, "alice")
    server = start_server(
        data_dir, ["--workers", "1", "--tls-cert", str(cert), "--tls-key", str(key)]
    )
    yield TlsServer(server, api_key, ca_file)
    assert server.stop() == 0, server.log


def test_sdk_over_tls_with_the_ca_as_argument_or_env(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXPRESS_TLS_CA", raising=False)
    ca_pem = tls_server.ca_file.read_bytes()
    with Client(tls_server.address, api_key=tls_server.key, root_certificates=ca_pem) as client:
        assert client.compress(a_jpeg(), quality=60).format == "jpeg"
        assert client.routes.retrieve("pixpress/compress-an-image").name == "compress-an-image"
    monkeypatch.setenv("PIXPRESS_TLS_CA", str(tls_server.ca_file))
    with Client(tls_server.address, api_key=tls_server.key) as client:
        asset = client.assets.upload(a_jpeg())
        route = client.routes.retrieve("pixpress/compress-an-image")
        assert route.use(body={"quality": 60}, input_asset=asset, timeout=120).status == (
            "succeeded"
        )


async def test_async_sdk_over_tls(tls_server: TlsServer) -> None:
    async with AsyncClient(
        tls_server.address, api_key=tls_server.key, root_certificates=tls_server.ca_file
    ) as client:
        result = await client.compress(a_photo_png(), quality=60)
    assert result.format == "png"


def test_sdk_without_the_ca_cannot_connect(
    tls_server: TlsServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PIXPRESS_TLS_CA", raising=False)
    stranger = trustme.CA().cert_pem.bytes()
    for client in (
        Client(tls_server.address, api_key=tls_server.key, timeout=20),  # plaintext
        Client(tls_server.address, api_key=tls_server.key, tls=True, timeout=20),  # system roots
        Client(tls_server.address, api_key=tls_server.key, root_certificates=stranger, timeout=20),
    ):
        with client, pytest.raises(PixpressError) as raised:
            client.compress(a_jpeg())
        assert raised.value.code == grpc.StatusCode.UNAVAILABLE


def test_cli_over_tls(tls_server: TlsServer, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env.update(PIXPRESS_SERVER=tls_server.address, PIXPRESS_API_KEY=tls_server.key)
    source = tmp_path / "photo.jpg"
    shutil.copy(a_jpeg(), source)

    def cli(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pixpress.cli", *args],
            capture_output=True,
            text=True,
            env={**env, **extra},
            timeout=300,
            check=False,
        )

    out = tmp_path / "small.jpg"
    completed = cli("compress", str(source), "-o", str(out), "--tls-ca", str(tls_server.ca_file))
    assert completed.returncode == 0, completed.stderr
    assert 0 < out.stat().st_size < source.stat().st_size
    completed = cli(
        "route", "get", "pixpress/compress-an-image", "--json", "--tls-ca", str(tls_server.ca_file)
    )
    assert completed.returncode == 0, completed.stderr
    assert '"identifier":"pixpress/compress-an-image"' in completed.stdout
    completed = cli("actions", "list", "--limit", "1", PIXPRESS_TLS_CA=str(tls_server.ca_file))
    assert completed.returncode == 0, completed.stderr
    assert "succeeded" in completed.stdout
    for refused in (cli("actions", "list"), cli("actions", "list", "--tls")):  # system roots
        # (gRPC's own log of the failed handshake may come first)
        assert refused.returncode == 1, refused.stderr
        assert refused.stderr.splitlines()[-1].startswith("UNAVAILABLE: "), refused.stderr
