"""The `pixpress` command: one function per subcommand, argparse subparsers to add more."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from pixpress._client import Client
from pixpress._config import DEFAULT_TARGET, TARGET_ENV
from pixpress._errors import PixpressError
from pixpress._plan import IMAGE_EXTENSIONS, Job, PlanError, plan_jobs
from pixpress._results import CompressResult
from pixpress._validation import check_int_between, check_quality

__all__ = ["build_parser", "main"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_JOBS = 4
MAX_JOBS = 64

COMPRESS_EPILOG = f"""\
where outputs go:
  one file, no -o         writes NAME.min.EXT next to it (the input is never touched)
  one file, -o FILE       writes FILE (if FILE is an existing directory, FILE/NAME)
  several inputs or DIRs  need -o DIR: each directory's tree is mirrored below DIR
                          (its contents, not the directory itself), files go to DIR/NAME
  --in-place              replaces each input, only when the result is smaller
Walking a directory picks up regular files ending in
{" ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))} (any case), without following
symlinks; files named on the command line are always sent.

exit status: 0 when every file succeeded, 1 when any failed (each failure is printed to
stderr as "PATH: CODE: message", CODE being the gRPC status such as INVALID_ARGUMENT, or
IO_ERROR for local files), 2 for usage errors.
"""


def _quality(text: str) -> int:
    try:
        return check_quality(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between 1 and 100 for quality but received {text}"
        ) from None


def _jobs(text: str) -> int:
    try:
        return check_int_between("jobs", int(text), 1, MAX_JOBS)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between 1 and {MAX_JOBS} for jobs but received {text}"
        ) from None


def _connection_options() -> argparse.ArgumentParser:
    """Options every subcommand that talks to a server shares."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=None,
        help=f"server address (env {TARGET_ENV}, default {DEFAULT_TARGET}); "
        "the API key comes from env PIXPRESS_API_KEY",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand sets `handler` (its function, taking the parsed
    arguments and returning the exit status) and `parser` (for its usage errors)."""
    parser = argparse.ArgumentParser(
        prog="pixpress", description="Compress images in their own format on a pixpress server."
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    compress = commands.add_parser(
        "compress",
        parents=[_connection_options()],
        help="compress files or directory trees",
        description="Compress images, keeping each one's format.",
        epilog=COMPRESS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compress.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="file or directory")
    compress.add_argument(
        "-q",
        "--quality",
        type=_quality,
        default=80,
        metavar="Q",
        help="1 (smallest) to 100 (lossless only); default 80",
    )
    target = compress.add_mutually_exclusive_group()
    target.add_argument("-o", "--output", type=Path, metavar="OUT", help="output file or directory")
    target.add_argument("--in-place", action="store_true", help="replace the inputs")
    compress.add_argument(
        "--keep-metadata", action="store_true", help="keep EXIF, XMP, IPTC (stripped by default)"
    )
    compress.add_argument(
        "-j",
        "--jobs",
        type=_jobs,
        default=DEFAULT_JOBS,
        metavar="N",
        help=f"requests in flight at once (default {DEFAULT_JOBS})",
    )
    compress.set_defaults(handler=run_compress, parser=compress)
    return parser


@dataclass
class Summary:
    """Totals: bytes and saving over the files compressed; failures are listed apart."""

    compressed: int = 0
    kept: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, result: CompressResult) -> None:
        self.compressed += 1
        self.kept += result.kept_original
        self.bytes_in += result.input_size
        self.bytes_out += result.output_size

    def table(self) -> Table:
        saved = 1 - self.bytes_out / self.bytes_in if self.bytes_in else 0.0
        table = Table(title="pixpress compress")
        columns = (
            "files",
            "compressed",
            "kept original",
            "bytes in",
            "bytes out",
            "saved",
            "failed",
        )
        for column in columns:
            table.add_column(column, justify="right")
        table.add_row(
            str(self.compressed + len(self.failures)),
            str(self.compressed),
            str(self.kept),
            f"{self.bytes_in:,}",
            f"{self.bytes_out:,}",
            f"{saved:.1%}",
            str(len(self.failures)),
        )
        return table


def failure_line(path: Path, error: Exception) -> str:
    """`PATH: CODE: message`, CODE a gRPC status name (IO_ERROR for local file errors)."""
    if isinstance(error, PixpressError):
        return f"{path}: {error.code.name}: {error.message}"
    if isinstance(error, OSError):
        return f"{path}: IO_ERROR: {error.strerror or error}"
    return f"{path}: {type(error).__name__}: {error}"


def write_atomically(destination: Path, data: bytes, mode_from: Path | None = None) -> None:
    """Write via a temporary file in the same directory, so a reader never sees half a file.

    The new file gets the umask's mode, or `mode_from`'s permissions when replacing a file.
    """
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "xb") as file:
            file.write(data)
        if mode_from is not None:
            shutil.copymode(mode_from, temporary)
        os.replace(temporary, destination)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def compress_one(client: Client, job: Job, quality: int, keep_metadata: bool) -> CompressResult:
    """Compress one file and write its output (in place only when it got smaller)."""
    result = client.compress(job.source, quality, keep_metadata)
    if job.in_place:
        if not result.kept_original:
            write_atomically(job.destination, result.data, mode_from=job.source)
    else:
        write_atomically(job.destination, result.data)
    return result


@contextlib.contextmanager
def _progress(console: Console, total: int) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal; elsewhere nothing. Yields the 'one more done' function."""
    if not console.is_terminal:
        yield lambda: None
        return
    columns = (TextColumn("compressing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("compress", total=total)
        yield lambda: progress.advance(task)


def run_compress(args: argparse.Namespace) -> int:
    """`pixpress compress`: plan outputs, send up to --jobs files at once, summarise."""
    try:
        jobs = plan_jobs(args.inputs, args.output, in_place=args.in_place)
    except PlanError as error:
        args.parser.error(str(error))  # exits 2
    if not jobs:
        print("pixpress: no images found", file=sys.stderr)
        return EXIT_OK
    stderr = Console(stderr=True)
    summary = Summary()
    # Exit order matters on Ctrl-C: closing the client cancels the calls in flight, so the
    # pool's shutdown does not wait for them.
    with (
        ThreadPoolExecutor(args.jobs, thread_name_prefix="pixpress") as pool,
        Client(args.server) as client,
        _progress(stderr, len(jobs)) as advance,
    ):
        futures: dict[Future[CompressResult], Job] = {
            pool.submit(compress_one, client, job, args.quality, args.keep_metadata): job
            for job in jobs
        }
        try:
            for future in as_completed(futures):
                advance()
                try:
                    summary.add(future.result())
                except (PixpressError, OSError) as error:
                    line = failure_line(futures[future].source, error)
                    summary.failures.append(line)
                    print(line, file=sys.stderr)
        except KeyboardInterrupt:
            pool.shutdown(wait=False, cancel_futures=True)
            return EXIT_INTERRUPTED
    Console().print(summary.table())
    return EXIT_FAILURES if summary.failures else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pixpress` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
