"""The one interface every encoder implements: EncodeRequest in, Encoded or KeepOriginal out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pixpress_server.processing.metadata import MetadataPolicy
from pixpress_server.processing.model import DEFAULT_EFFORT
from pixpress_server.processing.vips import VipsImage


@dataclass(frozen=True, slots=True)
class EncodeRequest:
    """The lazily loaded image plus the original bytes (some formats read facts from them)."""

    image: VipsImage
    source: bytes
    quality: int
    policy: MetadataPolicy
    effort: int = DEFAULT_EFFORT  # 1 (least CPU) .. 10 (fewest bytes)


@dataclass(frozen=True, slots=True)
class Encoded:
    """Encoder output; `postpass` says whether the format's lossless post-pass pays off here."""

    data: bytes
    postpass: bool
    mode: str  # short description for logs, e.g. "palette", "lossless", "q=80"
    pixels_kept: bool = False  # the source's own pixels (a lossless path): scores as identical


@dataclass(frozen=True, slots=True)
class KeepOriginal:
    """The encoder decided the original is the answer (reason is machine-readable-ish)."""

    reason: str


Encoder = Callable[[EncodeRequest], Encoded | KeepOriginal]
