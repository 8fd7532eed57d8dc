"""The `pixpress` command: one function per subcommand, argparse subparsers to add more.

compress (streamed, or --async through stored assets), route get, assets upload/get/
download/rm, actions list/get/watch/cancel.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from pixpress import __version__
from pixpress._client import Client
from pixpress._config import API_KEY_ENV, DEFAULT_TARGET, TARGET_ENV
from pixpress._convert import compress_options
from pixpress._errors import InvalidOptionsError, PixpressError, ResourceExhaustedError
from pixpress._models import Action, ActionStatus
from pixpress._outputs import OutputError, prepare_directories, write_atomically
from pixpress._plan import IMAGE_EXTENSIONS, STDIO, Existing, Job, PlanError, plan, walk_images
from pixpress._render import action_block, action_line, asset_line, route_block, to_json
from pixpress._report import Reporter, Summary, Verbosity, error_parts
from pixpress._results import CompressResult
from pixpress._sizes import parse_size
from pixpress._tls import TLS_CA_ENV, read_certificates
from pixpress._validation import (
    MAX_EFFORT,
    MAX_TARGET_SCORE,
    MIN_EFFORT,
    MIN_TARGET_SCORE,
    check_effort,
    check_int_between,
    check_quality,
    check_target_score,
)

__all__ = ["Summary", "build_parser", "main", "write_atomically"]

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DEFAULT_JOBS = 4
_S = TypeVar("_S")
MAX_JOBS = 64

COMPRESS_EPILOG = f"""\
where outputs go:
  one file, no -o         writes NAME.min.EXT next to it (the input is never touched)
  one file, -o FILE       writes FILE (if FILE is an existing directory, FILE/NAME)
  one file, -o DIR/       writes DIR/NAME (a trailing slash means a directory, created)
  several inputs or DIRs  need -o DIR: each directory's tree is mirrored below DIR
                          (its contents, not the directory itself), files go to DIR/NAME
  --in-place              replaces each input, only when the result is smaller
  -  (the only input)     reads standard input, writes standard output (or -o FILE)
  -o -                    writes the one result to standard output (never to a terminal,
                          unless --force)
An existing output is refused before anything is sent, unless --force (overwrite it) or
--skip-existing (leave it, counted as skipped). Output directories are created and checked
for writing first. Walking a directory picks up regular files ending in
{" ".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))} (any case), without following
symlinks; the rest is skipped (listed by --verbose, counted in the summary); files named on
the command line are always sent.

Standard output carries only data: image bytes (-o -), JSON lines (--json), action ids
(--async). Progress, --verbose lines, errors and the summary go to standard error.
--json prints one object per file: input, output, format, input_size, output_size,
saved_bytes, saving, quality, effort, score, budget_met, kept_original(_reason), width,
height, frames, action_id, error (null, or {{code, message}}); "skipped" for an existing
output left by --skip-existing. Ctrl-C stops, prints the summary so far, exits 130.

--async uploads each file as an asset and submits it (SubmitCompress) instead: it prints
the action id (PATH<TAB>ACTION_ID per line for several inputs) and writes nothing; follow
with `pixpress actions watch ID`, fetch with `pixpress assets download`.

exit status: 0 when every file succeeded, 1 when any failed (each failure is printed to
stderr as "PATH: CODE: message", CODE being the gRPC status such as INVALID_ARGUMENT, or
IO_ERROR for local files, named by the output path when writing failed), 2 for usage errors
(an existing output without --force or --skip-existing among them), 130 on Ctrl-C.
"""

PLATFORM_EPILOG = """\
exit status: 0 on success, 1 when the server or a local file refused (printed to stderr
as "CODE: message", prefixed with the PATH or ID concerned when there are several), 2 for
usage errors. --json prints one JSON object per line.
"""
MAX_LIMIT = 10_000


def _quality(text: str) -> int:
    try:
        return check_quality(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between 1 and 100 for quality but received {text}"
        ) from None


def _effort(text: str) -> int:
    try:
        return check_effort(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between {MIN_EFFORT} and {MAX_EFFORT} for effort but received {text}"
        ) from None


def _target_score(text: str) -> float:
    try:
        return check_target_score(float(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected number between {MIN_TARGET_SCORE} and {MAX_TARGET_SCORE} for "
            f"target_score but received {text}"
        ) from None


def _max_bytes(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{error} for max_bytes") from None


def _jobs(text: str) -> int:
    try:
        return check_int_between("jobs", int(text), 1, MAX_JOBS)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between 1 and {MAX_JOBS} for jobs but received {text}"
        ) from None


def _limit(text: str) -> int:
    try:
        return check_int_between("limit", int(text), 1, MAX_LIMIT)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"Expected integer between 1 and {MAX_LIMIT} for limit but received {text}"
        ) from None


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:
        raise argparse.ArgumentTypeError(
            f"Expected non-negative number for timeout but received {text}"
        )
    return value


def _connection_options() -> argparse.ArgumentParser:
    """Options every subcommand that talks to a server shares."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--server",
        metavar="HOST:PORT",
        default=None,
        help=f"server address (env {TARGET_ENV}, default {DEFAULT_TARGET}); several,"
        " comma-separated, or dns:///NAME:PORT spread the requests round-robin",
    )
    parent.add_argument(
        "--api-key",
        metavar="KEY",
        default=None,
        help=f"API key sent as a bearer token (env {API_KEY_ENV})",
    )
    parent.add_argument(
        "--tls",
        action="store_true",
        default=None,
        help="connect with TLS, trusting the system's CA roots",
    )
    parent.add_argument(
        "--tls-ca",
        type=Path,
        metavar="PATH",
        default=None,
        help=f"connect with TLS, trusting the CA certificates in this PEM file (env {TLS_CA_ENV})",
    )
    return parent


def _json_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON, one object per line")
    return parent


def _open_client(args: argparse.Namespace) -> Client:
    """The client of the connection options; a bad key or CA file is a usage error (exit 2)."""
    try:
        ca = None if args.tls_ca is None else read_certificates(args.tls_ca, "--tls-ca")
        return Client(args.server, api_key=args.api_key, tls=args.tls, root_certificates=ca)
    except InvalidOptionsError as error:
        parser: argparse.ArgumentParser = args.parser
        parser.error(str(error))  # exits 2


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; each subcommand sets `handler` (its function, taking the parsed
    arguments and returning the exit status) and `parser` (for its usage errors)."""
    parser = argparse.ArgumentParser(
        prog="pixpress", description="Compress images in their own format on a pixpress server."
    )
    parser.add_argument("--version", action="version", version=f"pixpress {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    compress = commands.add_parser(
        "compress",
        parents=[_connection_options()],
        help="compress files or directory trees",
        description="Compress images, keeping each one's format.",
        epilog=COMPRESS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    compress.add_argument(
        "inputs", nargs="+", metavar="INPUT", help=f"file or directory; {STDIO} for standard input"
    )
    compress.add_argument("--version", action="version", version=f"pixpress {__version__}")
    compress.add_argument(
        "-q",
        "--quality",
        type=_quality,
        default=None,
        metavar="Q",
        help="1 (smallest) to 100 (lossless only); default 80",
    )
    compress.add_argument(
        "--effort",
        type=_effort,
        default=None,
        metavar="N",
        help=f"CPU for bytes: {MIN_EFFORT} (fastest) to {MAX_EFFORT} (fewest bytes); default 5",
    )
    compress.add_argument(
        "--target-score",
        type=_target_score,
        default=None,
        metavar="S",
        help=f"reach this SSIMULACRA2 score ({MIN_TARGET_SCORE}-{MAX_TARGET_SCORE}, 90 visually"
        " lossless) at the fewest bytes, instead of -q",
    )
    compress.add_argument(
        "--max-bytes",
        type=_max_bytes,
        default=None,
        metavar="SIZE",
        help="byte budget per file: the best quality (at most -q, or the target's) that fits;"
        " SIZE as 200000, 200k (k, M, G: powers of 1000) or 1MiB (KiB, MiB, GiB: of 1024)",
    )
    target = compress.add_mutually_exclusive_group()
    target.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help=f"output file, or directory (DIR/ with a slash); {STDIO} for standard output",
    )
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
    compress.add_argument(
        "--async",
        dest="submit",
        action="store_true",
        help="upload each file as an asset, submit it, print the action id (writes nothing)",
    )
    existing = compress.add_mutually_exclusive_group()
    existing.add_argument("--force", action="store_true", help="overwrite existing outputs")
    existing.add_argument(
        "--skip-existing", action="store_true", help="leave existing outputs, send nothing for them"
    )
    compress.add_argument(
        "--json", action="store_true", help="print a JSON line per file on standard output"
    )
    talk = compress.add_mutually_exclusive_group()
    talk.add_argument("--quiet", action="store_true", help="print errors only")
    talk.add_argument(
        "-v", "--verbose", action="store_true", help="print a line per file, skipped ones too"
    )
    compress.set_defaults(handler=run_compress, parser=compress)
    _add_platform_commands(commands)
    return parser


def _add_platform_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """route, assets and actions: each a group of subcommands."""
    shared = [_connection_options(), _json_option()]

    def group(name: str, help_text: str) -> argparse._SubParsersAction[argparse.ArgumentParser]:
        parser = commands.add_parser(name, help=help_text, description=help_text)
        return parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND", required=True)

    def command(
        parent: argparse._SubParsersAction[argparse.ArgumentParser],
        name: str,
        handler: Callable[[Client, argparse.Namespace], int],
        help_text: str,
    ) -> argparse.ArgumentParser:
        parser = parent.add_parser(
            name,
            parents=shared,
            help=help_text,
            description=help_text,
            epilog=PLATFORM_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        parser.set_defaults(handler=functools.partial(_run_platform, handler), parser=parser)
        return parser

    route = group("route", "describe the routes the server serves")
    get = command(route, "get", run_route_get, "print a route by id or OWNER/NAME")
    get.add_argument("route", metavar="ID_OR_IDENTIFIER")

    assets = group("assets", "images stored on the server")
    upload = command(
        assets, "upload", run_assets_upload, "store files; print ID SIZE FORMAT SHA256"
    )
    upload.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    get = command(assets, "get", run_assets_get, "print an asset's ID SIZE FORMAT SHA256")
    get.add_argument("asset_id", metavar="ID")
    download = command(assets, "download", run_assets_download, "write an asset to a file")
    download.add_argument("asset_id", metavar="ID")
    download.add_argument(
        "-o",
        "--output",
        type=Path,
        default=Path(),
        metavar="PATH",
        help="file to write, or a directory to write ID.EXT into (default: .)",
    )
    remove = command(assets, "rm", run_assets_rm, "delete assets")
    remove.add_argument("asset_ids", nargs="+", metavar="ID")

    actions = group("actions", "the history of Compress calls")
    listing = command(actions, "list", run_actions_list, "list actions, newest first")
    listing.add_argument(
        "--status", choices=[s.value for s in ActionStatus if s is not ActionStatus.UNSPECIFIED]
    )
    listing.add_argument(
        "--limit", type=_limit, default=20, metavar="N", help="at most N actions (default 20)"
    )
    listing.add_argument("--route", metavar="ID", help="only actions of this route (its id)")
    get = command(actions, "get", run_actions_get, "print an action")
    get.add_argument("action_id", metavar="ID")
    watch = command(
        actions,
        "watch",
        run_actions_watch,
        "print each status change until the action ends; exit 0 only if it succeeded",
    )
    watch.add_argument("action_id", metavar="ID")
    watch.add_argument(
        "--timeout", type=_seconds, default=None, metavar="SECONDS", help="give up after this"
    )
    cancel = command(actions, "cancel", run_actions_cancel, "cancel a queued or running action")
    cancel.add_argument("action_id", metavar="ID")


@dataclass(frozen=True, slots=True)
class Choices:
    """What every file of one `pixpress compress` run is compressed with (None: the server's
    default)."""

    quality: int | None = None
    keep_metadata: bool = False
    effort: int | None = None
    target_score: float | None = None
    max_bytes: int | None = None

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> Choices:
        """The parsed options, checked together once (a conflict is a usage error, exit 2)."""
        choices = cls(
            quality=args.quality,
            keep_metadata=args.keep_metadata,
            effort=args.effort,
            target_score=args.target_score,
            max_bytes=args.max_bytes,
        )
        try:
            choices.check()
        except InvalidOptionsError as error:
            parser: argparse.ArgumentParser = args.parser
            parser.error(str(error))  # exits 2
        return choices

    def check(self) -> None:
        """InvalidOptionsError for what the SDK would refuse (quality with target_score...)."""
        compress_options(
            self.quality,
            self.keep_metadata,
            effort=self.effort,
            target_score=self.target_score,
            max_bytes=self.max_bytes,
        )

    def compress(self, client: Client, source: Path | bytes) -> CompressResult:
        return client.compress(
            source,
            self.quality,
            self.keep_metadata,
            effort=self.effort,
            target_score=self.target_score,
            max_bytes=self.max_bytes,
        )

    def submit(self, client: Client, asset_id: str) -> Action:
        return client.submit_compress(
            asset_id,
            self.quality,
            self.keep_metadata,
            effort=self.effort,
            target_score=self.target_score,
            max_bytes=self.max_bytes,
        )

    def title(self) -> str:
        """The summary's title: the options that were asked for."""
        asked = [
            f"{name} {value}"
            for name, value in (
                ("quality", self.quality),
                ("target score", self.target_score),
                ("max bytes", None if self.max_bytes is None else f"{self.max_bytes:,}"),
                ("effort", self.effort),
            )
            if value is not None
        ]
        return "pixpress compress" + (f" ({', '.join(asked)})" if asked else "")


def failure_line(path: Path, error: Exception) -> str:
    """`PATH: CODE: message`, CODE a gRPC status name (IO_ERROR for local file errors)."""
    code, message = error_parts(error)
    return f"{path}: {code}: {message}"


# A busy server or a rate limit answers RESOURCE_EXHAUSTED with a retry hint: a tree of many
# small files should slow down to what the server allows, not fail file by file.
MAX_RETRIES = 5
MAX_RETRY_WAIT = 30.0


def compress_with_retries(
    client: Client,
    job: Job,
    choices: Choices,
    sleep: Callable[[float], None] = time.sleep,
    data: bytes | None = None,
) -> CompressResult:
    """`client.compress` of the job's file (or `data`, read from stdin), retried after the
    server's hint while it answers RESOURCE_EXHAUSTED with one (up to MAX_RETRIES times);
    any other error, or no hint, is raised at once."""
    for attempt in range(MAX_RETRIES + 1):
        try:
            return choices.compress(client, job.source if data is None else data)
        except ResourceExhaustedError as error:
            if error.retry_after is None or attempt == MAX_RETRIES:
                raise
            sleep(min(error.retry_after, MAX_RETRY_WAIT))
    raise AssertionError("unreachable")


def compress_one(
    client: Client, job: Job, choices: Choices, data: bytes | None = None
) -> CompressResult:
    """Compress one file and write its output (in place only when it got smaller)."""
    result = compress_with_retries(client, job, choices, data=data)
    if job.to_stdout:
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
    elif job.in_place:
        if not result.kept_original:
            write_atomically(job.destination, result.data, mode_from=job.source)
    else:
        write_atomically(job.destination, result.data)
    return result


@contextlib.contextmanager
def _progress(console: Console, total: int, quiet: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on a terminal; elsewhere, or --quiet, nothing. Yields the 'one more done'
    function."""
    if quiet or not console.is_terminal:
        yield lambda: None
        return
    columns = (TextColumn("compressing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("compress", total=total)
        yield lambda: progress.advance(task)


def _verbosity(args: argparse.Namespace) -> Verbosity:
    if args.quiet:
        return Verbosity.QUIET
    return Verbosity.VERBOSE if args.verbose else Verbosity.NORMAL


def _existing(args: argparse.Namespace) -> Existing:
    if args.force:
        return Existing.OVERWRITE
    return Existing.SKIP if args.skip_existing else Existing.REFUSE


def run_compress(args: argparse.Namespace) -> int:
    """`pixpress compress`: plan outputs and check them, send up to --jobs files at once,
    report each file and summarise (the summary so far on Ctrl-C)."""
    choices = Choices.from_args(args)
    if args.submit:
        return run_compress_async(args, choices)
    parser: argparse.ArgumentParser = args.parser
    try:
        planned = plan(args.inputs, args.output, in_place=args.in_place, existing=_existing(args))
    except PlanError as error:
        parser.error(str(error))  # exits 2
    to_stdout = any(job.to_stdout for job in planned.jobs)
    if to_stdout and args.json:
        parser.error(f"--json and -o {STDIO} would both write to standard output")
    if to_stdout and sys.stdout.isatty() and not args.force:
        parser.error("image bytes are not written to a terminal: redirect, or use -o FILE")
    try:
        prepare_directories(planned.output_directories)
    except OutputError as error:
        print(failure_line(error.path, error), file=sys.stderr)
        return EXIT_FAILURES
    reporter = Reporter(Summary(title=choices.title()), _verbosity(args), args.json)
    for item in planned.skipped:
        reporter.skipped(item)
    jobs = planned.jobs
    if not jobs:
        if not planned.skipped:
            print("pixpress: no images found", file=sys.stderr)
        else:
            reporter.finish(0)
        return EXIT_OK
    stdin = sys.stdin.buffer.read() if jobs[0].from_stdin else None
    interrupted = False
    # Exit order matters on Ctrl-C: closing the client cancels the calls in flight, so the
    # pool's shutdown does not wait for them.
    with (
        ThreadPoolExecutor(args.jobs, thread_name_prefix="pixpress") as pool,
        _open_client(args) as client,
        _progress(reporter.stderr, len(jobs), args.quiet) as advance,
    ):
        futures: dict[Future[CompressResult], Job] = {
            pool.submit(compress_one, client, job, choices, stdin): job for job in jobs
        }
        try:
            for future in as_completed(futures):
                advance()
                try:
                    reporter.compressed(futures[future], future.result())
                except (PixpressError, OSError, OutputError) as error:
                    reporter.failed(futures[future], error)
        except KeyboardInterrupt:
            interrupted = True
            pool.shutdown(wait=False, cancel_futures=True)
    reporter.finish(len(jobs), interrupted=interrupted)
    if interrupted:
        return EXIT_INTERRUPTED
    return EXIT_FAILURES if reporter.summary.failures else EXIT_OK


def _async_sources(args: argparse.Namespace) -> list[Path]:
    """The files --async sends: files as named, directories walked (usage errors exit 2)."""
    if args.output is not None or args.in_place:
        args.parser.error("--async writes nothing: it cannot be combined with -o or --in-place")
    sources: list[Path] = []
    for text in args.inputs:
        if text == STDIO:
            args.parser.error(f"--async uploads files: it cannot read {STDIO} (standard input)")
        path = Path(text)
        if path.is_dir():
            sources.extend(walk_images(path))
        elif path.exists():
            sources.append(path)
        else:
            args.parser.error(f"{path}: no such file or directory")
    return sources


def submit_one(client: Client, source: Path, choices: Choices) -> str:
    """Upload `source` as an asset and submit it; returns the action id."""
    asset = client.assets.upload(source)
    return choices.submit(client, asset.id).id


def run_compress_async(args: argparse.Namespace, choices: Choices) -> int:
    """`pixpress compress --async`: upload and submit each file, print the action ids."""
    sources = _async_sources(args)
    if not sources:
        print("pixpress: no images found", file=sys.stderr)
        return EXIT_OK
    failed = False
    with (
        ThreadPoolExecutor(args.jobs, thread_name_prefix="pixpress") as pool,
        _open_client(args) as client,
    ):
        futures = [pool.submit(submit_one, client, source, choices) for source in sources]
        for source, future in zip(sources, futures, strict=True):
            try:
                action_id = future.result()
            except (PixpressError, OSError) as error:
                failed = True
                print(failure_line(source, error), file=sys.stderr)
                continue
            print(action_id if len(args.inputs) == 1 == len(sources) else f"{source}\t{action_id}")
    return EXIT_FAILURES if failed else EXIT_OK


# -- route, assets, actions ----------------------------------------------------------------


def error_line(error: PixpressError | OSError, subject: object | None = None) -> str:
    """`CODE: message`, prefixed with `SUBJECT: ` (a path or an id) when given."""
    if isinstance(error, PixpressError):
        text = f"{error.code.name}: {error.message}"
    else:
        text = f"IO_ERROR: {error.strerror or error}"
    return text if subject is None else f"{subject}: {text}"


def _run_platform(
    handler: Callable[[Client, argparse.Namespace], int], args: argparse.Namespace
) -> int:
    """Open the client, run one route/assets/actions command, turn errors into exit codes."""
    try:
        with _open_client(args) as client:
            return handler(client, args)
    except ValueError as error:  # an argument the SDK rejected before any call
        parser: argparse.ArgumentParser = args.parser
        parser.error(str(error))  # exits 2
    except (PixpressError, OSError) as error:
        print(error_line(error), file=sys.stderr)
        return EXIT_FAILURES
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


def run_route_get(client: Client, args: argparse.Namespace) -> int:
    route = client.routes.retrieve(args.route)
    print(to_json(route) if args.json else route_block(route))
    return EXIT_OK


def _each(subjects: Sequence[_S], act: Callable[[_S], str], *, prefix: bool) -> Iterator[bool]:
    """Run `act` on each subject, printing its line (or its error); yields success flags."""
    for subject in subjects:
        try:
            line = act(subject)
        except (PixpressError, OSError) as error:
            print(error_line(error, subject), file=sys.stderr)
            yield False
            continue
        print(f"{subject}\t{line}" if prefix else line)
        yield True


def run_assets_upload(client: Client, args: argparse.Namespace) -> int:
    def upload(path: Path) -> str:
        asset = client.assets.upload(path)
        return to_json(asset, path=str(path)) if args.json else asset_line(asset)

    several = len(args.paths) > 1 and not args.json
    return EXIT_OK if all(list(_each(args.paths, upload, prefix=several))) else EXIT_FAILURES


def run_assets_get(client: Client, args: argparse.Namespace) -> int:
    asset = client.assets.retrieve(args.asset_id)
    print(to_json(asset) if args.json else asset_line(asset))
    return EXIT_OK


def run_assets_download(client: Client, args: argparse.Namespace) -> int:
    try:
        path = client.assets.download(args.asset_id, args.output)
    except OSError as error:
        print(error_line(error, args.output), file=sys.stderr)
        return EXIT_FAILURES
    print(to_json({"id": args.asset_id, "path": str(path)}) if args.json else path)
    return EXIT_OK


def run_assets_rm(client: Client, args: argparse.Namespace) -> int:
    def delete(asset_id: str) -> str:
        client.assets.delete(asset_id)
        return to_json({"id": asset_id, "deleted": True}) if args.json else f"deleted {asset_id}"

    return EXIT_OK if all(list(_each(args.asset_ids, delete, prefix=False))) else EXIT_FAILURES


def _print_actions(actions: Iterable[Action], as_json: bool) -> None:
    for action in actions:
        print(to_json(action) if as_json else action_line(action), flush=True)


def run_actions_list(client: Client, args: argparse.Namespace) -> int:
    actions = client.actions.iter(
        page_size=min(args.limit, 100), status=args.status, route_id=args.route
    )
    _print_actions(itertools.islice(actions, args.limit), args.json)
    return EXIT_OK


def run_actions_get(client: Client, args: argparse.Namespace) -> int:
    action = client.actions.retrieve(args.action_id)
    print(to_json(action) if args.json else action_block(action))
    return EXIT_OK


def run_actions_watch(client: Client, args: argparse.Namespace) -> int:
    last: Action | None = None
    with contextlib.closing(client.actions.watch(args.action_id, timeout=args.timeout)) as updates:
        for last in updates:
            _print_actions([last], args.json)
    succeeded = last is not None and last.status is ActionStatus.SUCCEEDED
    return EXIT_OK if succeeded else EXIT_FAILURES


def run_actions_cancel(client: Client, args: argparse.Namespace) -> int:
    _print_actions([client.actions.cancel(args.action_id)], args.json)
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `pixpress` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
