"""`pixpress compress` end to end against the echo server: outputs, exit codes, stderr."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pixpress import ResourceExhaustedError, cli
from pixpress._plan import Job
from pixpress.cli import build_parser, failure_line, main

from tests.unit.client_echo_server import echo_server

ABORT_BAD = b"ABORT INVALID_ARGUMENT unsupported format"


@pytest.fixture(scope="module")
def server():
    with echo_server() as running:
        yield running


@pytest.fixture
def target(server, monkeypatch):
    monkeypatch.delenv("PIXPRESS_SERVER", raising=False)
    return server[0]


def test_parse_defaults():
    args = build_parser().parse_args(["compress", "a.jpg"])
    assert (args.quality, args.jobs, args.output, args.server) == (None, 4, None, None)
    assert (args.keep_metadata, args.in_place) == (False, False)
    assert (args.effort, args.target_score, args.max_bytes) == (None, None, None)
    assert args.inputs == ["a.jpg"]  # text: "-" means stdin, "DIR/" a directory


def test_parse_everything():
    argv = ["compress", "a", "b", "-q", "55", "-o", "out", "--server", "h:1", "--keep-metadata"]
    args = build_parser().parse_args([*argv, "-j", "8"])
    assert (args.quality, args.jobs, args.output, args.server) == (55, 8, "out", "h:1")
    assert args.keep_metadata is True


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compress", "a.jpg", "-q", "150"], "for quality but received 150"),
        (["compress", "a.jpg", "-q", "x"], "for quality but received x"),
        (["compress", "a.jpg", "-j", "0"], "for jobs but received 0"),
        (["compress"], "required: INPUT"),
        (["compress", "a.jpg", "-o", "x", "--in-place"], "not allowed with argument"),
        ([], "required: COMMAND"),
    ],
)
def test_usage_errors_exit_2(capsys, argv, message):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_missing_input_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["compress", str(tmp_path / "nope.jpg")])
    assert exited.value.code == 2
    assert "nope.jpg: no such file or directory" in capsys.readouterr().err


def test_one_file_with_output(tmp_path, target, capsys):
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"jpeg bytes")
    out = tmp_path / "small.jpg"
    assert main(["compress", str(source), "-o", str(out), "--server", target]) == 0
    assert out.read_bytes() == b"setyb gepj"
    assert source.read_bytes() == b"jpeg bytes"
    assert "saved" in capsys.readouterr().err  # the summary: stdout carries only data


def test_one_file_without_output_writes_min_sibling(tmp_path, target, monkeypatch):
    source = tmp_path / "photo.jpg"
    source.write_bytes(b"abc")
    monkeypatch.setenv("PIXPRESS_SERVER", target)  # the env var, no --server
    assert main(["compress", str(source), "-q", "70"]) == 0
    assert (tmp_path / "photo.min.jpg").read_bytes() == b"cba"


def test_tree_mirrored_with_failures_reported(tmp_path, target, capsys):
    tree = tmp_path / "in"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "a.jpg").write_bytes(b"a-bytes")
    (tree / "nested" / "b.png").write_bytes(b"b-bytes")
    (tree / "nested" / "deeper" / "c.gif").write_bytes(b"c-bytes")
    (tree / "nested" / "broken.png").write_bytes(ABORT_BAD)
    (tree / "nested" / "notes.txt").write_bytes(b"not sent")
    out = tmp_path / "out"
    code = main(["compress", str(tree), "-o", str(out), "-j", "3", "--server", target])
    assert code == 1
    err = capsys.readouterr().err
    assert f"{tree / 'nested' / 'broken.png'}: INVALID_ARGUMENT: unsupported format\n" in err
    for relative, expected in [
        ("a.jpg", b"setyb-a"),
        ("nested/b.png", b"setyb-b"),
        ("nested/deeper/c.gif", b"setyb-c"),
    ]:
        assert (out / relative).read_bytes() == expected
    assert not (out / "nested" / "broken.png").exists()
    assert not (out / "nested" / "notes.txt").exists()
    assert not list(out.rglob(".*"))  # no temporary files left behind


def test_all_good_exits_zero_and_summarises(tmp_path, target, capsys):
    for name in ("a.jpg", "b.png"):
        (tmp_path / name).write_bytes(b"0123456789")
    out = tmp_path / "out"
    argv = ["compress", str(tmp_path / "a.jpg"), str(tmp_path / "b.png"), "-o", str(out)]
    assert main([*argv, "--server", target]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""  # the summary goes to stderr: stdout carries only data
    assert "20" in captured.err  # bytes in
    assert "INVALID_ARGUMENT" not in captured.err


def test_unreachable_server_fails_every_file(tmp_path, capsys):
    source = tmp_path / "a.jpg"
    source.write_bytes(b"x")
    code = main(["compress", str(source), "-o", str(tmp_path / "o.jpg"), "--server", "localhost:1"])
    assert code == 1
    assert capsys.readouterr().err.startswith(f"{source}: UNAVAILABLE: ")


def test_failure_line_for_local_errors():
    line = failure_line(Path("x.jpg"), PermissionError(13, "Permission denied"))
    assert line == "x.jpg: IO_ERROR: Permission denied"


def test_runs_as_a_module(tmp_path, target):
    source = tmp_path / "a.jpg"
    source.write_bytes(ABORT_BAD)
    env = {**os.environ, "PIXPRESS_SERVER": target}
    completed = subprocess.run(
        [sys.executable, "-m", "pixpress.cli", "compress", str(source)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"{source}: INVALID_ARGUMENT: unsupported format\n")
    assert completed.stdout == ""
    assert not (tmp_path / "a.min.jpg").exists()


def test_outputs_get_the_umask_mode(tmp_path, target):
    source = tmp_path / "a.jpg"
    source.write_bytes(b"abc")
    old = os.umask(0o022)
    try:
        assert main(["compress", str(source), "--server", target]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "a.min.jpg").stat().st_mode & 0o777 == 0o644


def test_in_place_replaces_keeping_mode_and_skips_kept_originals(tmp_path, target):
    changed, kept = tmp_path / "a.jpg", tmp_path / "b.jpg"
    changed.write_bytes(b"abc")
    changed.chmod(0o600)
    kept.write_bytes(b"KEEP me")
    before = kept.stat().st_mtime_ns
    assert main(["compress", str(tmp_path), "--in-place", "--server", target]) == 0
    assert changed.read_bytes() == b"cba"
    assert changed.stat().st_mode & 0o777 == 0o600
    assert kept.read_bytes() == b"KEEP me"
    assert kept.stat().st_mtime_ns == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jpg", "b.jpg"]


class _Busy:
    """A client whose first `failures` calls answer RESOURCE_EXHAUSTED with a retry hint."""

    def __init__(self, failures: int, retry_after: float | None) -> None:
        self.calls = 0
        self._failures = failures
        self._retry_after = retry_after

    def compress(self, source, quality, keep_metadata, **engine):
        self.calls += 1
        if self.calls <= self._failures:
            error = ResourceExhaustedError("rate limit: 100 requests/s per key; retry in 0.25 s")
            error.retry_after = self._retry_after
            raise error
        return "result"


def test_compress_retries_after_the_servers_hint(tmp_path: Path) -> None:
    job = Job(source=tmp_path / "a.png", destination=tmp_path / "out.png")
    waits: list[float] = []
    busy = _Busy(failures=2, retry_after=0.25)
    result = cli.compress_with_retries(busy, job, cli.Choices(80), sleep=waits.append)  # type: ignore[arg-type]
    assert (result, busy.calls, waits) == ("result", 3, [0.25, 0.25])


@pytest.mark.parametrize(("failures", "retry_after"), [(1, None), (cli.MAX_RETRIES + 1, 0.1)])
def test_compress_gives_up_without_a_hint_or_after_the_last_retry(
    tmp_path: Path, failures: int, retry_after: float | None
) -> None:
    job = Job(source=tmp_path / "a.png", destination=tmp_path / "out.png")
    busy = _Busy(failures, retry_after)
    with pytest.raises(ResourceExhaustedError):
        cli.compress_with_retries(busy, job, cli.Choices(80), sleep=lambda _: None)  # type: ignore[arg-type]
    assert busy.calls == (1 if retry_after is None else cli.MAX_RETRIES + 1)
