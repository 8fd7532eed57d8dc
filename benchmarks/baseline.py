"""The Pillow baseline: the usual one-liner a user would write, per format.

JPEG `quality=Q, optimize=True, progressive=True`; PNG quantised to 256 colours then
`optimize=True` (lossless `optimize=True` at quality 100); WebP `quality=Q` (every frame).
EXIF orientation is applied to the pixels and the ICC profile kept, so the output displays
like the source. The same never-larger guard as pixpress applies.
"""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

from PIL import Image, ImageOps, features

from benchmarks.tasks import TaskOutcome

BASELINE_FORMATS = frozenset({"jpeg", "png", "webp"})


def _quantized(image: Image.Image) -> Image.Image:
    if image.mode in {"P", "1", "L", "LA", "PA"}:
        return image
    if image.mode not in {"RGB", "RGBA"}:
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    if features.check_feature("libimagequant"):
        method = Image.Quantize.LIBIMAGEQUANT
    elif image.mode == "RGBA":
        method = Image.Quantize.FASTOCTREE
    else:
        method = Image.Quantize.MEDIANCUT
    return image.quantize(colors=256, method=method)


def _save_options(image: Image.Image) -> dict[str, Any]:
    icc = image.info.get("icc_profile")
    return {"icc_profile": icc} if icc else {}


def encode_pillow(data: bytes, image_format: str, quality: int) -> bytes:
    """Pillow's encode of `data` (a `image_format` file) at `quality`."""
    with Image.open(io.BytesIO(data)) as opened:
        animated = getattr(opened, "n_frames", 1) > 1
        # The displayed orientation must survive, as pixpress keeps it: rotate the pixels.
        image = opened if animated else ImageOps.exif_transpose(opened)
        image.load()
        out = io.BytesIO()
        options = _save_options(opened)
        if image_format == "jpeg":
            rgb = image if image.mode in {"RGB", "L", "CMYK"} else image.convert("RGB")
            rgb.save(out, "JPEG", quality=quality, optimize=True, progressive=True, **options)
        elif image_format == "png":
            source = image if quality == 100 else _quantized(image)
            if source.mode == "I;16" and quality < 100:
                source = source.convert("L")
            source.save(out, "PNG", optimize=True, **options)
        elif image_format == "webp":
            image.save(out, "WEBP", quality=quality, save_all=animated, **options)
        else:
            raise ValueError(f"no Pillow baseline for {image_format}")
        return out.getvalue()


def compress_pillow(source: str, destination: str, quality: int, image_format: str) -> TaskOutcome:
    """Pillow baseline task: file in, file out (not written when the original is kept)."""
    started = time.perf_counter()
    data = Path(source).read_bytes()
    try:
        output = encode_pillow(data, image_format, quality)
    except (OSError, ValueError) as error:
        return TaskOutcome(0, False, error=f"{type(error).__name__}: {error}")
    milliseconds = (time.perf_counter() - started) * 1000
    if len(output) >= len(data):
        return TaskOutcome(len(data), True, (("encode", len(output), milliseconds),))
    Path(destination).write_bytes(output)
    return TaskOutcome(len(output), False, (("encode", len(output), milliseconds),))
