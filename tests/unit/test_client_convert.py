"""Conversion of wire results into CompressResult, and reassembly of the response stream."""

from __future__ import annotations

import dataclasses

import pixpress
import pytest
from pixpress._convert import ResultAssembler, format_name, result_from_pb
from pixpress.v1 import compress_pb2 as pb
from pixpress.v1 import image_pb2 as image_pb


def wire_result(**overrides) -> pb.CompressResult:
    fields = {
        "format": image_pb.IMAGE_FORMAT_WEBP,
        "input_size": 1000,
        "output_size": 6,
        "width": 640,
        "height": 480,
        "frames": 3,
        "kept_original": False,
        "kept_original_reason": "",
        "quality": 70,
        "stages": [
            image_pb.Stage(name="decode", output_bytes=0, milliseconds=1.25),
            image_pb.Stage(name="encode", output_bytes=6, milliseconds=7.5),
        ],
    }
    fields.update(overrides)
    return pb.CompressResult(**fields)


@pytest.mark.parametrize(
    ("value", "name"),
    [
        (image_pb.IMAGE_FORMAT_JPEG, "jpeg"),
        (image_pb.IMAGE_FORMAT_PNG, "png"),
        (image_pb.IMAGE_FORMAT_WEBP, "webp"),
        (image_pb.IMAGE_FORMAT_GIF, "gif"),
        (image_pb.IMAGE_FORMAT_AVIF, "avif"),
        (image_pb.IMAGE_FORMAT_HEIF, "heif"),
        (image_pb.IMAGE_FORMAT_TIFF, "tiff"),
        (image_pb.IMAGE_FORMAT_UNSPECIFIED, "unspecified"),
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


def test_assembler_takes_the_action_id_first():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(action_id="act-1"))
    assembler.add(pb.CompressResponse(result=wire_result(output_size=2, output_asset_id="out-1")))
    assembler.add(pb.CompressResponse(chunk=b"ab"))
    result = assembler.finish()
    assert (result.action_id, result.output_asset_id, result.data) == ("act-1", "out-1", b"ab")


def test_assembler_accepts_a_result_without_action_id_from_an_older_server():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(result=wire_result(output_size=0)))
    assert assembler.finish().action_id == ""


def test_result_action_id_field_wins_over_the_streamed_one():
    assembler = ResultAssembler()
    assembler.add(pb.CompressResponse(action_id="streamed"))
    assembler.add(pb.CompressResponse(result=wire_result(output_size=0, action_id="in-result")))
    assert assembler.finish().action_id == "in-result"


@pytest.mark.parametrize(
    ("messages", "error"),
    [
        ([{"action_id": "a"}, {"action_id": "b"}], "second action id"),
        ([{"action_id": "a"}, {"chunk": b"x"}], "output before the result"),
        ([{"result": wire_result()}, {"action_id": "a"}], "action id after the result"),
    ],
)
def test_assembler_rejects_a_misplaced_action_id(messages, error):
    assembler = ResultAssembler()
    with pytest.raises(pixpress.InternalError, match=error):
        for message in messages:
            assembler.add(pb.CompressResponse(**message))
