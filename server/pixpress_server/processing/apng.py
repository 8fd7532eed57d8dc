"""APNG validation: every chunk, the frame-control sequence and each frame's zlib data.

libvips reads only an APNG's default image and pixpress sends the file back unchanged, so
this is the only check a damaged animation meets. Pure Python plus zlib; nothing decoded kept.
"""

from __future__ import annotations

import itertools
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from pixpress_server.errors import InvalidInput
from pixpress_server.processing.limits import check_limits
from pixpress_server.processing.model import ImageFormat, ImageHeader, Limits

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_MAX_UINT = 2**31 - 1  # PNG's four-byte unsigned integers stop here
_INFLATE_STEP = 1 << 20  # most decompressed bytes held at once
_INPUT_STEP = 1 << 16  # compressed bytes fed to zlib at once
_CRITICAL = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND"})
_BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7 passes: x start, y start, x step, y step.
_ADAM7: tuple[tuple[int, int, int, int], ...] = (
    (0, 0, 8, 8),
    (4, 0, 8, 8),
    (0, 4, 4, 8),
    (2, 0, 4, 4),
    (0, 2, 2, 4),
    (1, 0, 2, 2),
    (0, 1, 1, 2),
)


def corrupt(reason: str) -> InvalidInput:
    """The error every check raises: INVALID_ARGUMENT `corrupt apng: <reason>`."""
    return InvalidInput(f"corrupt apng: {reason}")


@dataclass(frozen=True, slots=True)
class _Chunk:
    type: bytes
    start: int  # offset of the data
    end: int  # offset just past the data

    @property
    def name(self) -> str:
        return self.type.decode("latin-1")


@dataclass(slots=True)
class _Frame:
    """One frame's region and the spans of its compressed data within the file."""

    number: int
    width: int
    height: int
    spans: list[tuple[int, int]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Ihdr:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool

    def row_bytes(self, width: int) -> int:
        """Bytes of one filtered row of `width` pixels: its filter byte plus packed samples."""
        return 1 + (width * _SAMPLES[self.colour_type] * self.bit_depth + 7) // 8

    def rows(self, width: int, height: int) -> list[tuple[int, int]]:
        """(row count, bytes per row) of each pass of a `width` x `height` frame."""
        if not self.interlaced:
            return [(height, self.row_bytes(width))]
        passes = []
        for x0, y0, dx, dy in _ADAM7:
            pass_width = (width - x0 + dx - 1) // dx if width > x0 else 0
            pass_height = (height - y0 + dy - 1) // dy if height > y0 else 0
            if pass_width and pass_height:
                passes.append((pass_height, self.row_bytes(pass_width)))
        return passes


def _chunks(data: bytes, *, check_crc: bool) -> Iterator[_Chunk]:
    """Every chunk after the signature up to IEND, the last bytes; raises on the first bad one."""
    pos = len(PNG_SIGNATURE)
    while pos < len(data):
        if pos + 12 > len(data):
            raise corrupt(f"truncated chunk header at byte {pos}")
        length = int.from_bytes(data[pos : pos + 4], "big")
        chunk_type = data[pos + 4 : pos + 8]
        if not chunk_type.isalpha():  # ASCII letters only, for bytes
            raise corrupt(f"invalid chunk type {chunk_type!r} at byte {pos}")
        name = chunk_type.decode("ascii")
        if length > _MAX_UINT:
            raise corrupt(f"{name} chunk length {length} above 2^31-1")
        end = pos + 8 + length
        if end + 4 > len(data):
            raise corrupt(f"{name} chunk at byte {pos} truncated")
        if check_crc:
            stored = int.from_bytes(data[end : end + 4], "big")
            if zlib.crc32(memoryview(data)[pos + 4 : end]) != stored:
                raise corrupt(f"{name} chunk at byte {pos} fails its CRC")
        yield _Chunk(chunk_type, pos + 8, end)
        pos = end + 4
        if chunk_type == b"IEND" and pos < len(data):
            raise corrupt(f"{len(data) - pos} bytes after IEND")


def is_apng(data: bytes) -> bool:
    """Whether `data` is a PNG with an acTL chunk before its first IDAT.

    When the chunk walk breaks before either, a bare `acTL` ahead of `IDAT` anywhere in the
    bytes still counts, so a damaged animation is validated (and refused) rather than
    flattened to its first frame.
    """
    if not data.startswith(PNG_SIGNATURE):
        return False
    try:
        for chunk in _chunks(data, check_crc=False):
            if chunk.type == b"acTL":
                return True
            if chunk.type == b"IDAT":
                return False
    except InvalidInput:
        pass
    actl, idat = data.find(b"acTL"), data.find(b"IDAT")
    return actl != -1 and (idat == -1 or actl < idat)


def _ihdr(data: bytes, chunk: _Chunk) -> _Ihdr:
    if chunk.type != b"IHDR":
        raise corrupt(f"first chunk is {chunk.name}, not IHDR")
    if chunk.end - chunk.start != 13:
        raise corrupt(f"IHDR length {chunk.end - chunk.start}, expected 13")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data[chunk.start : chunk.end]
    )
    if not (0 < width <= _MAX_UINT and 0 < height <= _MAX_UINT):
        raise corrupt(f"IHDR size {width}x{height} invalid")
    if depth not in _BIT_DEPTHS.get(colour, ()):
        raise corrupt(f"IHDR bit depth {depth} invalid for colour type {colour}")
    if compression or filtering or interlace > 1:
        raise corrupt("IHDR compression, filter or interlace method invalid")
    return _Ihdr(width, height, depth, colour, bool(interlace))


class _Reader:
    """Walks the chunks once, checking each APNG rule as its chunk arrives."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.ihdr: _Ihdr | None = None
        self.declared_frames = 0
        self.frames: list[_Frame] = []  # the animation's frames, in fcTL order
        self.default_image = _Frame(-1, 0, 0)  # the IDAT image: frame 0, or not shown (-1)
        self.sequence = 0
        self.seen: set[bytes] = set()
        self.last: bytes = b""

    def _u32(self, offset: int) -> int:
        return int.from_bytes(self.data[offset : offset + 4], "big")

    def _next_sequence(self, chunk: _Chunk) -> None:
        number = self._u32(chunk.start)
        if number != self.sequence:
            raise corrupt(f"{chunk.name} sequence number {number}, expected {self.sequence}")
        self.sequence += 1

    def read(self) -> None:
        if not self.data.startswith(PNG_SIGNATURE):
            raise corrupt("no PNG signature")
        for chunk in _chunks(self.data, check_crc=True):
            self._chunk(chunk)
            self.seen.add(chunk.type)
            self.last = chunk.type
        if self.last != b"IEND":
            raise corrupt("no IEND chunk (truncated)")
        if len(self.frames) != self.declared_frames:
            raise corrupt(f"{len(self.frames)} fcTL chunks, acTL declares {self.declared_frames}")
        if self.frames and not self.frames[-1].spans:
            raise corrupt(f"frame {self.frames[-1].number} has no fdAT data")

    def _chunk(self, chunk: _Chunk) -> None:
        if self.ihdr is None:
            self.ihdr = _ihdr(self.data, chunk)
            self.default_image.width, self.default_image.height = self.ihdr.width, self.ihdr.height
            return
        length = chunk.end - chunk.start
        kind = chunk.type
        if kind == b"IHDR":
            raise corrupt("second IHDR chunk")
        if kind == b"IEND":
            if length:
                raise corrupt(f"IEND length {length}, expected 0")
            if b"IDAT" not in self.seen:
                raise corrupt("no IDAT chunk")
        elif kind == b"PLTE":
            if b"IDAT" in self.seen:
                raise corrupt("PLTE chunk after IDAT")
        elif kind == b"IDAT":
            self._idat(chunk)
        elif kind == b"acTL":
            self._actl(chunk, length)
        elif kind == b"fcTL":
            self._fctl(chunk, length)
        elif kind == b"fdAT":
            self._fdat(chunk, length)
        elif kind[0:1].isupper():
            raise corrupt(f"unknown critical chunk {chunk.name}")

    def _idat(self, chunk: _Chunk) -> None:
        assert self.ihdr is not None
        if b"IDAT" in self.seen and self.last != b"IDAT":
            raise corrupt("IDAT chunks not consecutive")
        if b"acTL" not in self.seen:
            raise corrupt("acTL chunk not before the first IDAT")
        if self.ihdr.colour_type == 3 and b"PLTE" not in self.seen:
            raise corrupt("palette image without a PLTE chunk before IDAT")
        self.default_image.spans.append((chunk.start, chunk.end))

    def _actl(self, chunk: _Chunk, length: int) -> None:
        if b"acTL" in self.seen:
            raise corrupt("second acTL chunk")
        if b"IDAT" in self.seen:
            raise corrupt("acTL chunk after IDAT")
        if length != 8:
            raise corrupt(f"acTL length {length}, expected 8")
        frames, plays = self._u32(chunk.start), self._u32(chunk.start + 4)
        if not 1 <= frames <= _MAX_UINT:
            raise corrupt(f"acTL num_frames {frames}, expected 1 to 2^31-1")
        if plays > _MAX_UINT:
            raise corrupt(f"acTL num_plays {plays} above 2^31-1")
        self.declared_frames = frames

    def _fctl(self, chunk: _Chunk, length: int) -> None:
        assert self.ihdr is not None
        if length != 26:
            raise corrupt(f"fcTL length {length}, expected 26")
        if b"acTL" not in self.seen:
            raise corrupt("fcTL chunk before acTL")
        self._next_sequence(chunk)
        number = len(self.frames)
        if number >= self.declared_frames:
            raise corrupt(f"more fcTL chunks than the {self.declared_frames} acTL declares")
        if b"IDAT" not in self.seen and self.frames:
            raise corrupt("second fcTL chunk before IDAT")
        if self.frames and not self.frames[-1].spans:
            raise corrupt(f"frame {self.frames[-1].number} has no fdAT data")
        width, height, x, y, _delay_num, _delay_den, dispose, blend = struct.unpack(
            ">IIIIHHBB", self.data[chunk.start + 4 : chunk.end]
        )
        where = f"frame {number} fcTL"
        if not (0 < width <= _MAX_UINT and 0 < height <= _MAX_UINT):
            raise corrupt(f"{where} size {width}x{height} invalid")
        if x + width > self.ihdr.width or y + height > self.ihdr.height:
            raise corrupt(
                f"{where} region {width}x{height}+{x}+{y} outside the "
                f"{self.ihdr.width}x{self.ihdr.height} canvas"
            )
        if dispose > 2 or blend > 1:
            raise corrupt(f"{where} dispose_op {dispose} or blend_op {blend} invalid")
        if b"IDAT" not in self.seen:
            if (x, y, width, height) != (0, 0, self.ihdr.width, self.ihdr.height):
                raise corrupt(f"{where} before IDAT is {width}x{height}+{x}+{y}, not the IHDR size")
            frame = self.default_image  # filled in by the IDAT chunks
            frame.number = 0
        else:
            frame = _Frame(number, width, height)
        self.frames.append(frame)

    def _fdat(self, chunk: _Chunk, length: int) -> None:
        if length < 4:
            raise corrupt(f"fdAT length {length}, expected at least 4")
        self._next_sequence(chunk)
        if b"IDAT" not in self.seen or not self.frames or self.frames[-1] is self.default_image:
            raise corrupt("fdAT chunk without its frame's fcTL after IDAT")
        self.frames[-1].spans.append((chunk.start + 4, chunk.end))


def _check_frame_data(data: bytes, ihdr: _Ihdr, frame: _Frame) -> None:
    """Inflate one frame's zlib stream in bounded steps, output discarded as it comes.

    It must end exactly at the byte count its size, bit depth and colour type give, and
    every row must start with a filter type from 0 to 4.
    """
    label = "default image" if frame.number < 0 else f"frame {frame.number}"
    rows = ihdr.rows(frame.width, frame.height)
    expected = sum(count * size for count, size in rows)
    inflater = zlib.decompressobj()
    produced = 0
    view = memoryview(data)
    # Input goes in small slices so that unconsumed_tail (a copy) stays small too.
    pieces = (
        view[offset : min(offset + _INPUT_STEP, end)]
        for start, end in frame.spans
        for offset in range(start, end, _INPUT_STEP)
    )
    try:
        for piece in itertools.chain(pieces, [memoryview(b"")]):
            pending: memoryview | bytes = piece
            while not inflater.eof:
                output = inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                _check_filters(output, produced, rows, label)
                produced += len(output)
                if produced > expected:
                    raise corrupt(f"{label} data inflates past the {expected} bytes expected")
                if not pending and not output:
                    break
            if inflater.eof:
                break
    except zlib.error as error:
        raise corrupt(f"{label} data is not a valid zlib stream ({error})") from error
    if not inflater.eof:
        raise corrupt(f"{label} zlib stream cut short after {produced} of {expected} bytes")
    if produced != expected:
        raise corrupt(f"{label} data inflates to {produced} bytes, expected {expected}")


def _check_filters(output: bytes, offset: int, rows: list[tuple[int, int]], label: str) -> None:
    """The filter bytes that fall in `output` (which starts at `offset` of the stream)."""
    base = 0
    for count, size in rows:
        stop = base + count * size
        if stop > offset and base < offset + len(output):
            first = base + -(-(offset - base) // size) * size if offset > base else base
            filters = output[first - offset : stop - offset : size]
            if filters and max(filters) > 4:
                raise corrupt(f"{label} has a row with filter type {max(filters)}")
        base = stop


def check(data: bytes, header: ImageHeader, limits: Limits) -> ImageHeader:
    """For an APNG: validate it whole and return `header` with its frame count, in limits.

    Anything else comes back unchanged (libvips checks still PNGs as it decodes them).

    Raises:
        InvalidInput: `corrupt apng: ...` naming the first fault, or a limit exceeded.
    """
    if header.format is not ImageFormat.PNG or not is_apng(data):
        return header
    reader = _Reader(data)
    reader.read()
    assert reader.ihdr is not None
    header = replace(header, frames=reader.declared_frames)
    check_limits(header, limits)  # before inflating: --max-frames bounds the work below
    if reader.default_image.number < 0:
        _check_frame_data(data, reader.ihdr, reader.default_image)
    for frame in reader.frames:
        _check_frame_data(data, reader.ihdr, frame)
    return header
