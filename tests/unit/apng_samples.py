"""Real APNGs made at test time from crops of a Kodak photo (Pillow), and named damages.

`DAMAGES` is the table both the unit and the service tests use: each entry rewrites a
valid APNG one specific way (chunk CRCs are recomputed unless the CRC is the damage) and
names the message pixpress must answer with.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from tests.conftest import FIXTURES_DIR

Chunk = tuple[bytes, bytes]  # (type, data)
SIGNATURE = b"\x89PNG\r\n\x1a\n"
WIDTH, HEIGHT = 96, 64


def make_apng(
    frames: int = 4,
    mode: str = "RGB",
    size: tuple[int, int] = (WIDTH, HEIGHT),
    *,
    default_image: bool = False,
) -> bytes:
    """`frames` different crops of kodim23.png saved by Pillow as an APNG (loops forever).

    With default_image, the first crop is a still default image outside the animation.
    """
    with Image.open(FIXTURES_DIR / "png" / "kodim23.png") as photo:
        crops = [
            photo.crop((i * 40, i * 30, i * 40 + size[0], i * 30 + size[1])).convert(mode)
            for i in range(frames + default_image)
        ]
    out = io.BytesIO()
    crops[0].save(
        out,
        format="PNG",
        save_all=True,
        append_images=crops[1:],
        duration=[100 + 10 * i for i in range(len(crops))],
        loop=0,
        default_image=default_image,
    )
    return out.getvalue()


def chunks(data: bytes) -> list[Chunk]:
    """The chunks of a well-formed PNG, in order."""
    assert data.startswith(SIGNATURE)
    found, pos = [], len(SIGNATURE)
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        found.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return found


def encode_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body)
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def build(parts: list[Chunk]) -> bytes:
    return SIGNATURE + b"".join(encode_chunk(kind, body) for kind, body in parts)


def offset_of(data: bytes, index: int) -> int:
    """Byte offset of chunk number `index` (0 = IHDR)."""
    pos = len(SIGNATURE)
    for _ in range(index):
        pos += 12 + struct.unpack(">I", data[pos : pos + 4])[0]
    return pos


def index_of(parts: list[Chunk], kind: bytes, nth: int = 0) -> int:
    return [i for i, (k, _) in enumerate(parts) if k == kind][nth]


def with_sequence(body: bytes, number: int) -> bytes:
    return struct.pack(">I", number) + body[4:]


def renumber(parts: list[Chunk], start: int = 0) -> list[Chunk]:
    """fcTL and fdAT sequence numbers rewritten to start, start+1, ... in chunk order."""
    result, number = [], start
    for kind, body in parts:
        if kind in (b"fcTL", b"fdAT"):
            result.append((kind, with_sequence(body, number)))
            number += 1
        else:
            result.append((kind, body))
    return result


def edit_fctl(data: bytes, frame: int, **fields: int) -> bytes:
    """Rewrite named fields of frame `frame`'s fcTL."""
    names = ("sequence", "width", "height", "x", "y", "delay_num", "delay_den")
    names += ("dispose", "blend")
    parts = chunks(data)
    i = index_of(parts, b"fcTL", frame)
    values = dict(zip(names, struct.unpack(">IIIIIHHBB", parts[i][1]), strict=True))
    values.update(fields)
    parts[i] = (b"fcTL", struct.pack(">IIIIIHHBB", *values.values()))
    return build(parts)


def edit_actl(data: bytes, frames: int) -> bytes:
    parts = chunks(data)
    i = index_of(parts, b"acTL")
    parts[i] = (b"acTL", struct.pack(">I", frames) + parts[i][1][4:])
    return build(parts)


def edit_stream(data: bytes, frame: int, edit: Callable[[bytes], bytes]) -> bytes:
    """Frame `frame`'s zlib stream (IDAT for 0, else its one fdAT) replaced by edit(stream)."""
    parts = chunks(data)
    if frame == 0:
        i = index_of(parts, b"IDAT")
        parts[i] = (b"IDAT", edit(parts[i][1]))
    else:
        i = index_of(parts, b"fdAT", frame - 1)
        assert parts[i + 1][0] != b"fdAT", "the sample frames must fit one fdAT each"
        parts[i] = (b"fdAT", parts[i][1][:4] + edit(parts[i][1][4:]))
    return build(parts)


def edit_rows(data: bytes, frame: int, edit: Callable[[bytes], bytes]) -> bytes:
    """Frame `frame`'s filtered rows (inflated) edited, then compressed again, valid zlib."""
    return edit_stream(data, frame, lambda stream: zlib.compress(edit(zlib.decompress(stream))))


ROW = 1 + 3 * WIDTH  # one filtered RGB row of the sample


def _flip_crc(data: bytes) -> bytes:
    end = offset_of(data, index_of(chunks(data), b"fdAT", 1) + 1)
    return data[: end - 1] + bytes([data[end - 1] ^ 0x01]) + data[end:]


def _skip_sequence(data: bytes) -> bytes:
    parts = chunks(data)
    i = index_of(parts, b"fdAT", 1)
    return build(parts[:i] + renumber(parts[i:], start=5))


def _swap_frames(data: bytes) -> bytes:
    parts = chunks(data)
    a, b = index_of(parts, b"fcTL", 2), index_of(parts, b"fcTL", 3)
    return build(parts[:a] + parts[b : b + 2] + parts[a:b] + parts[b + 2 :])


def _fctl_first(data: bytes) -> bytes:
    parts = chunks(data)
    i = index_of(parts, b"acTL")
    return build([*parts[:i], parts[i + 1], parts[i], *parts[i + 2 :]])


def _drop_fdat(data: bytes) -> bytes:
    parts = chunks(data)
    i = index_of(parts, b"fdAT", 1)
    return build(renumber(parts[:i] + parts[i + 1 :]))


def _truncate_in_fdat(data: bytes) -> bytes:
    start = offset_of(data, index_of(chunks(data), b"fdAT", 2))
    return data[: start + 100]


def _huge_length(data: bytes) -> bytes:
    start = offset_of(data, index_of(chunks(data), b"fdAT", 0))
    return data[:start] + struct.pack(">I", 2**31) + data[start + 4 :]


def _insert(data: bytes, before: bytes, kind: bytes, body: bytes) -> bytes:
    parts = chunks(data)
    i = index_of(parts, before)
    return build([*parts[:i], (kind, body), *parts[i:]])


def _bad_filter(rows: bytes) -> bytes:
    """Row 5 says filter type 9 (types stop at 4)."""
    return rows[: 5 * ROW] + b"\x09" + rows[5 * ROW + 1 :]


def _wrong_adler(stream: bytes) -> bytes:
    return stream[:-1] + bytes([stream[-1] ^ 0xFF])


def _damage_default_image(data: bytes) -> bytes:
    """The sample with a still default image, whose IDAT stream has a wrong checksum."""
    return edit_stream(make_apng(default_image=True), 0, _wrong_adler)


@dataclass(frozen=True, slots=True)
class Damage:
    name: str
    damage: Callable[[bytes], bytes]
    message: str  # a regular expression matched against the whole public message


DAMAGES = (
    Damage("crc", _flip_crc, r"corrupt apng: fdAT chunk at byte \d+ fails its CRC"),
    Damage("sequence-skipped", _skip_sequence, r"corrupt apng: fdAT sequence number 5, expected 4"),
    Damage("sequence-swapped", _swap_frames, r"corrupt apng: fcTL sequence number 5, expected 3"),
    Damage(
        "sequence-not-from-0",
        lambda data: build(renumber(chunks(data), start=1)),
        r"corrupt apng: fcTL sequence number 1, expected 0",
    ),
    Damage(
        "region-outside-canvas",
        lambda data: edit_fctl(data, 2, x=1),
        r"corrupt apng: frame 2 fcTL region 96x64\+1\+0 outside the 96x64 canvas",
    ),
    Damage(
        "zero-width",
        lambda data: edit_fctl(data, 1, width=0),
        r"corrupt apng: frame 1 fcTL size 0x64 invalid",
    ),
    Damage(
        "dispose-op",
        lambda data: edit_fctl(data, 3, dispose=3),
        r"corrupt apng: frame 3 fcTL dispose_op 3 or blend_op 0 invalid",
    ),
    Damage(
        "blend-op",
        lambda data: edit_fctl(data, 1, blend=2),
        r"corrupt apng: frame 1 fcTL dispose_op 0 or blend_op 2 invalid",
    ),
    Damage(
        "first-fctl-not-ihdr-size",
        lambda data: edit_fctl(data, 0, width=95),
        r"corrupt apng: frame 0 fcTL before IDAT is 95x64\+0\+0, not the IHDR size",
    ),
    Damage(
        "more-frames-than-declared",
        lambda data: edit_actl(data, 3),
        r"corrupt apng: more fcTL chunks than the 3 acTL declares",
    ),
    Damage(
        "fewer-frames-than-declared",
        lambda data: edit_actl(data, 5),
        r"corrupt apng: 4 fcTL chunks, acTL declares 5",
    ),
    Damage(
        "zero-frames",
        lambda data: edit_actl(data, 0),
        r"corrupt apng: acTL num_frames 0, expected 1 to 2\^31-1",
    ),
    Damage(
        "second-actl",
        lambda data: _insert(data, b"fcTL", b"acTL", struct.pack(">II", 4, 0)),
        r"corrupt apng: second acTL chunk",
    ),
    Damage("fctl-before-actl", _fctl_first, r"corrupt apng: fcTL chunk before acTL"),
    Damage("missing-fdat", _drop_fdat, r"corrupt apng: frame 2 has no fdAT data"),
    Damage("truncated-fdat", _truncate_in_fdat, r"corrupt apng: fdAT chunk at byte \d+ truncated"),
    Damage(
        "huge-chunk-length",
        _huge_length,
        r"corrupt apng: fdAT chunk length 2147483648 above 2\^31-1",
    ),
    Damage("no-iend", lambda data: data[:-12], r"corrupt apng: no IEND chunk \(truncated\)"),
    Damage(
        "garbage-after-iend",
        lambda data: data + b"garbage!",
        r"corrupt apng: 8 bytes after IEND",
    ),
    Damage(
        "unknown-critical-chunk",
        lambda data: _insert(data, b"IEND", b"ABCD", b"\x00" * 4),
        r"corrupt apng: unknown critical chunk ABCD",
    ),
    Damage(
        "zlib-cut-short",
        lambda data: edit_stream(data, 2, lambda stream: stream[: len(stream) // 2]),
        r"corrupt apng: frame 2 zlib stream cut short after \d+ of 18496 bytes",
    ),
    Damage(
        "zlib-checksum",
        lambda data: edit_stream(data, 3, _wrong_adler),
        r"corrupt apng: frame 3 data is not a valid zlib stream \(.*incorrect data check\)",
    ),
    Damage(
        "idat-checksum",
        lambda data: edit_stream(data, 0, _wrong_adler),
        r"corrupt apng: frame 0 data is not a valid zlib stream \(.*incorrect data check\)",
    ),
    Damage(
        "default-image-checksum",
        _damage_default_image,
        r"corrupt apng: default image data is not a valid zlib stream \(.*\)",
    ),
    Damage(
        "frame-data-short",
        lambda data: edit_rows(data, 1, lambda rows: rows[:-ROW]),
        r"corrupt apng: frame 1 data inflates to 18207 bytes, expected 18496",
    ),
    Damage(
        "frame-data-long",
        lambda data: edit_rows(data, 1, lambda rows: rows + rows[:ROW]),
        r"corrupt apng: frame 1 data inflates past the 18496 bytes expected",
    ),
    Damage(
        "filter-type",
        lambda data: edit_rows(data, 2, _bad_filter),
        r"corrupt apng: frame 2 has a row with filter type 9",
    ),
)
