"""A real server on port 0, reached through the SDK (sync and async) and the CLI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from PIL import Image
from pixpress import AsyncClient, Client, CompressResult, PixpressError
from pixpress_server.processing.formats import sniff

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
