"""The comparison benchmark's inputs: the same photos in each format, built in a scratch dir.

Kodak photos (PNG sources) from the corpus become JPEG q 95 4:2:0, WebP q 95 and an
animated GIF (a slow pan, each frame a dithered 256-colour palette); camera JPEGs from the
corpus are added as they are; search_photos picks the target_score photos. The corpus is only
read.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyvips
from PIL import Image

FORMATS: tuple[str, ...] = ("jpeg", "png", "webp", "gif")
EXTENSIONS = {"jpeg": ".jpg", "png": ".png", "webp": ".webp", "gif": ".gif"}
CAMERA_JPEGS = ("Landscape_1.jpg",)
"""Real camera JPEGs added to the JPEG set when the corpus has them (exif-orientation set)."""


@dataclass(frozen=True, slots=True)
class InputImage:
    """One input file of one format."""

    name: str
    format: str
    path: Path
    width: int
    height: int
    frames: int = 1

    @property
    def megapixels(self) -> float:
        return self.width * self.height * self.frames / 1e6

    @property
    def size(self) -> int:
        return self.path.stat().st_size


def pick_photos(corpus: Path, count: int) -> list[Path]:
    """`count` Kodak photos spread evenly over those in `corpus` (sorted by name)."""
    photos = sorted(corpus.rglob("kodim*.png"), key=lambda path: path.name)
    unique = list({path.name: path for path in photos}.values())
    if count >= len(unique):
        return unique
    step = len(unique) / count
    return [unique[int(i * step)] for i in range(count)]


GIF_FRAMES = 6
GIF_PAN = 4
"""Pixels the camera pans between frames of the generated animations."""


def _pan(image: Image.Image) -> list[Image.Image]:
    """Frames of a slow pan over the photo at half size, each a dithered 256-colour palette.

    An animated GIF as users make them from video: mostly the same pixels frame to frame,
    each frame quantised on its own.
    """
    half = image.resize((image.width // 2, image.height // 2))
    width = half.width - GIF_PAN * (GIF_FRAMES - 1)
    return [
        half.crop((i * GIF_PAN, 0, i * GIF_PAN + width, half.height)).quantize(
            256, dither=Image.Dither.FLOYDSTEINBERG
        )
        for i in range(GIF_FRAMES)
    ]


def _size(image: Image.Image, image_format: str) -> tuple[int, int, int]:
    """Width, height and frames of what `_save` writes."""
    if image_format == "gif":
        half_width, half_height = image.width // 2, image.height // 2
        return half_width - GIF_PAN * (GIF_FRAMES - 1), half_height, GIF_FRAMES
    return image.width, image.height, 1


def _save(image: Image.Image, image_format: str, path: Path) -> None:
    if image_format == "jpeg":
        image.save(path, "JPEG", quality=95, subsampling=2)
    elif image_format == "webp":
        image.save(path, "WEBP", quality=95)
    elif image_format == "gif":
        frames = _pan(image)
        frames[0].save(path, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    else:
        image.save(path, "PNG")


def build_inputs(
    corpus: Path, directory: Path, count: int, shrink_to: int | None = None
) -> dict[str, list[InputImage]]:
    """Write every format's inputs under `directory/<format>/`; format -> images.

    `shrink_to` (the smoke run) scales the photos down to that width first.
    """
    inputs: dict[str, list[InputImage]] = {f: [] for f in FORMATS}
    for source in pick_photos(corpus, count):
        with Image.open(source) as opened:
            image = opened.convert("RGB")
        if shrink_to is not None and image.width > shrink_to:
            image = image.resize((shrink_to, round(image.height * shrink_to / image.width)))
        for image_format in FORMATS:
            folder = directory / image_format
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{source.stem}{EXTENSIONS[image_format]}"
            if image_format == "png" and shrink_to is None:
                shutil.copyfile(source, path)
            else:
                _save(image, image_format, path)
            width, height, frames = _size(image, image_format)
            inputs[image_format].append(
                InputImage(source.stem, image_format, path, width, height, frames)
            )
    if shrink_to is None:
        for camera in _camera_jpegs(corpus):
            path = directory / "jpeg" / camera.name
            shutil.copyfile(camera, path)
            with Image.open(path) as opened:
                width, height = opened.size
            inputs["jpeg"].append(InputImage(camera.stem, "jpeg", path, width, height))
    return inputs


SEARCH_CAMERA_PHOTOS = ("Landscape_1.jpg", "Portrait_1.jpg")
"""The two exif-orientation photos, once each (the corpus holds each at 9 orientations)."""
SEARCH_AVIF_PHOTOS = ("hato.profile0.8bpc.yuv420.avif",)


def search_photos(corpus: Path) -> list[Path]:
    """Every distinct photo in `corpus` for the target_score figures: the Kodak PNGs, one
    copy of each exif-orientation photo and the 8-bit hato AVIF (when libvips decodes it)."""
    photos = list({path.name: path for path in corpus.rglob("kodim*.png")}.values())
    photos.sort(key=lambda path: path.name)
    wanted = (*SEARCH_CAMERA_PHOTOS, *SEARCH_AVIF_PHOTOS)
    found = {path.name: path for path in corpus.rglob("*") if path.name in wanted}
    return photos + [found[name] for name in wanted if name in found and _decodes(found[name])]


def _decodes(path: Path) -> bool:
    try:
        pyvips.Image.new_from_file(str(path)).avg()
    except pyvips.Error:
        return False
    return True


def _camera_jpegs(corpus: Path) -> Sequence[Path]:
    found = {path.name: path for path in corpus.rglob("*.jpg") if path.name in CAMERA_JPEGS}
    return [found[name] for name in CAMERA_JPEGS if name in found]
