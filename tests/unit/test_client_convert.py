"""Conversion of wire results into CompressResult, and reassembly of the response stream."""

from __future__ import annotations

import dataclasses

import pixpress
import pytest
from pixpress._convert import ResultAssembler, format_name, result_from_pb
from pixpress.v1 import compress_pb2 as pb


def wire_result(**overrides) -> pb.CompressResult:
    fields = {
        "format": pb.IMAGE_FORMAT_WEBP,
        "input_size": 1000,
        "output_size": 6,
        "width": 640,
        "height": 480,
        "frames": 3,
        "kept_original": False,
        "kept_original_reason": "",
        "quality": 70,
        "stages": [
            pb.Stage(name="decode", output_bytes=0, milliseconds=1.25),
            pb.Stage(name="encode", output_bytes=6, milliseconds=7.5),
        ],
    }
    fields.update(overrides)
    return pb.CompressResult(**fields)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (pb.IMAGE_FORMAT_JPEG, "jpeg"),
        (pb.IMAGE_FORMAT_PNG, "png"),
        (pb.IMAGE_FORMAT_WEBP, "webp"),
        (pb.IMAGE_FORMAT_GIF, "gif"),
        (pb.IMAGE_FORMAT_AVIF, "avif"),
        (pb.IMAGE_FORMAT_HEIF, "heif"),
        (pb.IMAGE_FORMAT_TIFF, "tiff"),
        (pb.IMAGE_FORMAT_UNSPECIFIED, "unspecified"),
        (99, "unknown"),
    ],
)
def test_format_names(value, name):
    assert format_name(value) == name


def test_result_from_pb_copies_every_field():
    result = result_from_pb(wire_result(), b"abcdef")
    assert result == pixpress.CompressResult(
        data=b"abcdef",
        format="webp",
        input_size=1000,
        output_size=6,
        width=640,
        height=480,
        frames=3,
        kept_original=False,
        kept_original_reason="",
        quality=70,
        stages=(
            pixpress.Stage("decode", 0, 1.25),
            pixpress.Stage("encode", 6, 7.5),
        ),
    )


def test_result_is_frozen_and_hides_bytes_in_repr():
    result = result_from_pb(wire_result(), b"abcdef")
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.quality = 1  # type: ignore[misc]
    assert "abcdef" not in repr(result)


def test_ratios():
    result = result_from_pb(wire_result(input_size=1000, output_size=250), b"")
    assert result.ratio == 0.25
    assert result.saved_ratio == 0.75
    assert result.saved_bytes == 750
    empty = result_from_pb(wire_result(input_size=0, output_size=0), b"")
    assert empty.ratio == 1.0
    assert empty.saved_ratio == 0.0


def test_save(tmp_path):
    result = result_from_pb(wire_result(), b"abcdef")
    assert result.save(tmp_path / "out.webp").read_bytes() == b"abcdef"


def test_assembler_joins_chunks_after_the_result():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(result=wire_result(output_size=6)))
    for chunk in (b"ab", b"cd", b"ef"):
        assembler.add(pb.CompressResponse(chunk=chunk))
    assert assembler.finish().data == b"abcdef"


def test_assembler_rejects_a_chunk_before_the_result():
    with pytest.raises(pixpress.InternalError, match="before the result"):
        ResultAssembler().add(pb.CompressResponse(chunk=b"ab"))


def test_assembler_rejects_a_second_result():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(result=wire_result()))
    with pytest.raises(pixpress.InternalError, match="second result"):
        assembler.add(pb.CompressResponse(result=wire_result()))


def test_assembler_rejects_a_stream_without_result():
    with pytest.raises(pixpress.InternalError, match="without a result"):
        ResultAssembler().finish()


def test_assembler_rejects_missing_bytes():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(result=wire_result(output_size=6)))
    assembler.add(pb.CompressResponse(chunk=b"abc"))
    with pytest.raises(pixpress.InternalError, match="announced 6 output bytes but sent 3"):
        assembler.finish()
