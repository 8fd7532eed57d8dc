"""Peers of the comparison benchmark: a missing one is skipped with how to install it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from benchmarks.compare import available_peers
from benchmarks.peers import BatchJob, lossless
from benchmarks.peers.sharp import SharpPeer
from benchmarks.peers.thumbor import ThumborPeer, config_text

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "png" / "kodim03.png"


def test_missing_sharp_says_how_to_install_it(tmp_path: Path) -> None:
    peer = SharpPeer(module=tmp_path / "node_modules" / "sharp")
    reason = peer.missing()
    assert reason is not None
    assert "sharp skipped" in reason
    assert "--install-peers" in reason or "install Node.js" in reason


def test_missing_thumbor_says_how_to_install_it(tmp_path: Path) -> None:
    peer = ThumborPeer(tmp_path, executable=tmp_path / "venv" / "bin" / "thumbor")
    reason = peer.missing()
    assert reason is not None
    assert "thumbor skipped" in reason
    assert "--install-peers" in reason


def test_missing_lossless_tools_name_their_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert lossless.missing("jpegtran") == (
        "jpegtran skipped: not on PATH (apt-get install libjpeg-turbo-progs)"
    )
    assert (
        lossless.missing("zopflipng") == "zopflipng skipped: not on PATH (apt-get install zopfli)"
    )
    assert lossless.missing("oxipng") is None  # a Python module of the project


def test_available_peers_skips_missing_ones_with_notes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SharpPeer, "missing", lambda self: "sharp skipped: test")
    monkeypatch.setattr(ThumborPeer, "missing", lambda self: "thumbor skipped: test")
    notes: list[str] = []
    sharp, thumbor = available_peers({"sharp", "thumbor", "imgproxy"}, tmp_path, 2, notes)
    assert sharp is None
    assert thumbor is None
    assert notes == [
        "sharp skipped: test",
        "thumbor skipped: test",
        "unknown peer 'imgproxy' ignored",
    ]


def test_no_peer_wanted_means_no_peer_and_no_note(tmp_path: Path) -> None:
    notes: list[str] = []
    assert available_peers(set(), tmp_path, 2, notes) == (None, None)
    assert notes == []


def test_thumbor_config_loads_files_from_the_root_and_stores_nothing(tmp_path: Path) -> None:
    text = config_text(tmp_path)
    assert "LOADER = 'thumbor.loaders.file_loader'" in text
    assert f"FILE_LOADER_ROOT_PATH = {str(tmp_path)!r}" in text
    assert "RESULT_STORAGE = 'thumbor.result_storages.no_storage'" in text
    compile(text, "thumbor.conf", "exec")


def test_sharp_compresses_a_jpeg_when_installed(tmp_path: Path) -> None:
    peer = SharpPeer()
    if (reason := peer.missing()) is not None:
        pytest.skip(reason)
    source = tmp_path / "in.jpg"
    with Image.open(FIXTURE) as image:
        image.convert("RGB").resize((96, 64)).save(source, quality=95)
    job = BatchJob("one", source, tmp_path / "out" / "one.jpg", "jpeg")
    result = peer.compress([job], 60)
    assert result.errors == []
    assert result.sizes["one"] == job.output.stat().st_size
    assert job.output.read_bytes()[:2] == b"\xff\xd8"
    assert result.cpu_seconds >= 0
