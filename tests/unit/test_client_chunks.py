"""Chunking of bytes and files, and the order of the request stream."""

from __future__ import annotations

import os

import pytest
from pixpress._chunks import iter_bytes, open_chunks
from pixpress._convert import compress_options, request_stream

KIB = 1024


@pytest.mark.parametrize(
    ("size", "chunk_size", "expected"),
    [
        (0, 4, []),
        (1, 4, [1]),
        (4, 4, [4]),
        (10, 4, [4, 4, 2]),
        (600 * KIB, 256 * KIB, [256 * KIB, 256 * KIB, 88 * KIB]),
    ],
)
def test_bytes_split_in_order(size, chunk_size, expected):
    data = os.urandom(size)
    chunks = list(iter_bytes(data, chunk_size))
    assert [len(c) for c in chunks] == expected
    assert b"".join(chunks) == data
    assert all(type(c) is bytes for c in chunks)


@pytest.mark.parametrize("kind", [bytearray, memoryview])
def test_bytes_like_inputs(kind):
    assert list(iter_bytes(kind(b"abcdefg"), 3)) == [b"abc", b"def", b"g"]


@pytest.mark.parametrize("as_type", [str, os.fspath, lambda p: p])
def test_file_read_lazily_in_chunks(tmp_path, as_type):
    path = tmp_path / "image.bin"
    data = os.urandom(1000)
    path.write_bytes(data)
    with open_chunks(as_type(path), 300) as chunks:
        first = next(chunks)
        assert len(first) == 300
        rest = list(chunks)
    assert [len(c) for c in rest] == [300, 300, 100]
    assert first + b"".join(rest) == data


def test_file_closed_when_block_exits(tmp_path):
    path = tmp_path / "image.bin"
    path.write_bytes(b"x" * 10)
    with open_chunks(path, 4) as chunks:
        next(chunks)
    with pytest.raises(ValueError, match="closed file"):
        next(chunks)


def test_missing_file_fails_when_opened_not_later(tmp_path):
    with pytest.raises(FileNotFoundError), open_chunks(tmp_path / "missing.png", 4):
        pass


def test_a_str_is_a_path_never_data(tmp_path):
    with pytest.raises(FileNotFoundError), open_chunks("not image bytes", 4):
        pass


def test_request_stream_options_first_then_chunks():
    requests = list(request_stream(compress_options(55, True), iter_bytes(b"abcdefghij", 4)))
    assert [r.WhichOneof("payload") for r in requests] == ["options", "chunk", "chunk", "chunk"]
    assert requests[0].options.quality == 55
    assert requests[0].options.keep_metadata is True
    assert [r.chunk for r in requests[1:]] == [b"abcd", b"efgh", b"ij"]


def test_request_stream_of_empty_input_is_options_only():
    requests = list(request_stream(compress_options(80, False), iter_bytes(b"", 4)))
    assert [r.WhichOneof("payload") for r in requests] == ["options"]


def test_quality_none_leaves_the_field_unset():
    assert not compress_options(None, False).HasField("quality")
    assert compress_options(1, False).HasField("quality")
