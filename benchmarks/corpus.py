"""Load a benchmark corpus: walk a directory, sniff and probe every file, count what is skipped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pixpress_server.errors import PixpressServerError
from pixpress_server.processing import pipeline
from pixpress_server.processing.formats import SNIFF_BYTES, sniff
from pixpress_server.processing.model import Limits

from benchmarks.measure import size_class

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
BENCH_LIMITS = Limits(max_pixels=268_402_689, max_frames=1000)


@dataclass(frozen=True, slots=True)
class CorpusImage:
    """One image the benchmark uses, as its header describes it."""

    path: Path
    name: str
    """Path relative to the corpus root."""
    format: str
    size: int
    width: int
    height: int
    frames: int

    @property
    def megapixels(self) -> float:
        return self.width * self.height * self.frames / 1e6

    @property
    def size_class(self) -> str:
        return size_class(self.size)


@dataclass
class Corpus:
    """The usable images and why the others were skipped (reason -> count)."""

    root: Path
    images: list[CorpusImage]
    skipped: Counter[str] = field(default_factory=Counter)
    skipped_files: dict[str, str] = field(default_factory=dict)

    def skip(self, name: str, reason: str) -> None:
        self.skipped[reason] += 1
        self.skipped_files[name] = reason

    def drop(self, names: dict[str, str]) -> None:
        """Remove images that failed later (e.g. corrupt past the header), counting why."""
        for name, reason in names.items():
            self.skip(name, reason)
        self.images = [image for image in self.images if image.name not in names]


def _reason(error: PixpressServerError) -> str:
    message = str(error)
    if message.startswith("unsupported format"):
        return message
    if message.startswith("corrupt"):
        return "corrupt or truncated"
    return type(error).__name__


def load_corpus(root: Path, limit: int | None = None) -> Corpus:
    """Every supported, readable image under `root`, sorted by path (at most `limit`).

    Files are recognised by magic bytes only; unsupported and broken ones are counted in
    `skipped`. Probing reads headers only (pipeline.initialise() runs here once).
    """
    pipeline.initialise()
    corpus = Corpus(root=root, images=[])
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        name = path.relative_to(root).as_posix()
        if path.name.startswith(".") or path.suffix.lower() in {".md", ".txt", ".tsv", ".json"}:
            continue
        try:
            with path.open("rb") as file:
                sniff(file.read(SNIFF_BYTES))
            header = pipeline.probe(path, BENCH_LIMITS)
        except PixpressServerError as error:
            corpus.skip(name, _reason(error))
            continue
        except OSError:
            corpus.skip(name, "unreadable")
            continue
        corpus.images.append(
            CorpusImage(
                path=path,
                name=name,
                format=str(header.format),
                size=path.stat().st_size,
                width=header.width,
                height=header.height,
                frames=header.frames,
            )
        )
        if limit is not None and len(corpus.images) >= limit:
            break
    return corpus
