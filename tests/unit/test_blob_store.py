"""The blob directory on real filesystems: created at start or refused clearly, and writers of
the same bytes at once (linked from the spool, or copied in from another filesystem) all
succeed and leave one complete file, no temporary files."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pixpress_server.blobs import BlobStore
from pixpress_server.settings import SettingsError

WRITERS, ROUNDS = 8, 20


@pytest.fixture
def other_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A directory on a filesystem other than tmp_path's (tmpfs /dev/shm), so link() fails."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip("no second filesystem (/dev/shm) to copy a blob across")
    with tempfile.TemporaryDirectory(dir=shm, prefix="pixpress-spool-") as directory:
        yield Path(directory)


def test_prepare_creates_a_missing_directory_and_leaves_nothing_in_it(tmp_path: Path) -> None:
    root = tmp_path / "mnt" / "shared" / "blobs"
    BlobStore(root).prepare()
    assert root.is_dir() and list(root.iterdir()) == []


def test_prepare_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "blobs").write_bytes(b"not a directory")
    with pytest.raises(SettingsError, match=r"--blob-dir .*blobs: .*it is not a directory"):
        BlobStore(tmp_path / "blobs").prepare()
    with pytest.raises(SettingsError, match=r"--blob-dir .*blobs/inner: cannot create"):
        BlobStore(tmp_path / "blobs" / "inner").prepare()


@pytest.mark.parametrize("spool_on", ["same filesystem", "other filesystem"])
def test_writers_of_the_same_bytes_at_once_all_succeed_and_leave_one_file(
    tmp_path: Path, spool_on: str, request: pytest.FixtureRequest
) -> None:
    spool = tmp_path / "spool" if spool_on == "same filesystem" else None
    if spool is None:
        spool = request.getfixturevalue("other_filesystem")
    spool.mkdir(exist_ok=True)
    store = BlobStore(tmp_path / "blobs")
    store.prepare()
    for round_number in range(ROUNDS):
        data = os.urandom(64 * 1024) + round_number.to_bytes(4, "big")
        sha256 = hashlib.sha256(data).hexdigest()
        finished = []
        for writer in range(WRITERS):
            path = spool / f"{round_number}-{writer}"
            path.write_bytes(data)
            finished.append(path)
        barrier = threading.Barrier(WRITERS)

        def adopt(path: Path, sha256: str = sha256, barrier: threading.Barrier = barrier) -> None:
            barrier.wait(timeout=60)
            store.adopt(path, sha256)

        with ThreadPoolExecutor(WRITERS) as pool:
            for done in [pool.submit(adopt, path) for path in finished]:
                done.result(timeout=120)  # a writer's error fails the test here
        left = [path.name for path in store.path_for(sha256).parent.iterdir()]
        assert left.count(sha256) == 1 and not [name for name in left if name[0] == "."]
        assert store.path_for(sha256).read_bytes() == data
    assert len(list(store.stored())) == ROUNDS
