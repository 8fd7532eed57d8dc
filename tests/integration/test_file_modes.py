"""Nothing in the data dir is readable by other local users: after a start on a data dir
an older version left world-readable, a key, an upload and a Compress with store_output,
every directory is 0700 and every file 0600 (DB, WAL, blobs, spool, secret)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from tests.integration.server_process import create_key, keyed_channel, start_server
from tests.integration.test_platform_server import PNG, Stubs, compress_stream, download, upload


def _modes(data_dir: Path) -> dict[str, int]:
    modes = {".": stat.S_IMODE(data_dir.stat().st_mode)}
    for root, directories, files in os.walk(data_dir):
        for name in (*directories, *files):
            path = Path(root, name)
            modes[str(path.relative_to(data_dir))] = stat.S_IMODE(path.lstat().st_mode)
    return modes


def _assert_private(data_dir: Path, modes: dict[str, int]) -> None:
    wrong = {
        name: oct(mode)
        for name, mode in modes.items()
        if mode != (0o700 if (data_dir / name).is_dir() else 0o600)
    }
    assert not wrong, wrong


def test_every_dir_is_0700_and_every_file_0600(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    # What an older version left: world-readable directories and files.
    (data_dir / "blobs" / "00").mkdir(parents=True)
    (data_dir / "tmp").mkdir()
    old_blob = data_dir / "blobs" / "00" / ("0" * 64)
    old_blob.write_bytes(b"an old blob")
    for path in (data_dir, data_dir / "blobs", data_dir / "blobs" / "00", data_dir / "tmp"):
        path.chmod(0o755)
    old_blob.chmod(0o644)

    server = start_server(data_dir, ["--workers", "1"])
    try:
        key = create_key(data_dir, "alice")
        with keyed_channel(server.address, key) as channel:
            stubs = Stubs(channel)
            asset = upload(stubs, PNG.read_bytes())
            responses = compress_stream(stubs, PNG.read_bytes(), store_output=True)
            stored = next(r.result for r in responses if r.HasField("result")).output_asset_id
            assert stored and download(stubs, stored)[1]
            assert download(stubs, asset.id)[1] == PNG.read_bytes()
        modes = _modes(data_dir)  # while serving: the WAL is there
    finally:
        assert server.stop() == 0, server.log

    assert {"pixpress.db", "pixpress.db-wal", "secret", "blobs", "tmp"} <= modes.keys()
    blobs = [name for name in modes if name.startswith("blobs/") and name.count("/") == 2]
    assert len(blobs) >= 3, modes  # the old one, the upload, the stored output
    _assert_private(data_dir, modes)
    _assert_private(data_dir, _modes(data_dir))  # and after the shutdown


def test_keys_create_on_a_new_data_dir_is_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    create_key(data_dir, "alice")
    modes = _modes(data_dir)
    assert "pixpress.db" in modes
    _assert_private(data_dir, modes)
