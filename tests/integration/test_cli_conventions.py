"""`pixpress compress` by the conventions of pngquant, cwebp and imagemin, on a real server:
--force/--skip-existing, outputs checked first, -o DIR/, --version, "-" for stdin/stdout,
--json, --quiet/--verbose, skipped files listed and counted, Ctrl-C's partial summary."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from pixpress import ActionStatus, Client, __version__
from pixpress_server.processing.formats import sniff

from tests.integration.server_process import ServerProcess, create_key

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "pngsuite" / "basn2c08.png"
WAIT = 120


@pytest.fixture(scope="module")
def key(server: ServerProcess) -> str:
    """An owner of its own on the session server, so its actions are this module's alone."""
    return create_key(server.data_dir, "cli-conventions")


@pytest.fixture
def client(server: ServerProcess, key: str) -> Iterator[Client]:
    with Client(server.address, api_key=key) as opened:
        yield opened


def pixpress(
    server: ServerProcess, key: str, *argv: object, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """`python -m pixpress.cli ARGV` as this module's owner; stdout and stderr as bytes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env |= {"PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key}
    env.pop("COLUMNS", None)  # the summary must fit a log file's lines by itself
    return subprocess.run(
        [sys.executable, "-m", "pixpress.cli", *map(str, argv)],
        input=stdin if stdin is not None else b"",
        capture_output=True,
        env=env,
        timeout=WAIT,
        check=False,
    )


def action_count(client: Client) -> int:
    return sum(1 for _ in client.actions.iter(page_size=100))


def summary_cells(stderr: str) -> dict[str, str]:
    """The summary table's header and row, as {column: cell} (each header on one line)."""
    lines = [line for line in stderr.splitlines() if line.startswith(("┃", "│"))]
    header, row = lines[0], lines[-1]
    names = [cell.strip() for cell in header.strip("┃").split("┃")]
    values = [cell.strip() for cell in row.strip("│").split("│")]
    return dict(zip(names, values, strict=True))


def tree_of(root: Path, **files: Path) -> Path:
    """Copies of fixtures at root/NAME, NAME spelt with "__" for "/" and its last "_" for "."."""
    for name, source in files.items():
        stem, extension = name.replace("__", "/").rsplit("_", 1)
        destination = root / f"{stem}.{extension}"
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, destination)
    return root


# 1. an existing output is refused unless --force; --skip-existing skips it


def test_existing_output_refused_before_anything_is_sent(
    server: ServerProcess, key: str, client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "small.jpg"
    out.write_bytes(b"precious")
    before = action_count(client)
    refused = pixpress(server, key, "compress", JPEG, "-o", out)
    assert refused.returncode == 2
    stderr = refused.stderr.decode()
    assert f"{out}: output exists; use --force to overwrite or --skip-existing to skip" in stderr
    assert out.read_bytes() == b"precious"
    assert action_count(client) == before  # nothing was sent

    forced = pixpress(server, key, "compress", JPEG, "-o", out, "--force")
    assert forced.returncode == 0, forced.stderr
    assert sniff(out.read_bytes()[:64]) == "jpeg"
    assert 0 < out.stat().st_size < JPEG.stat().st_size


def test_skip_existing_leaves_them_and_counts_them(
    server: ServerProcess, key: str, client: Client, tmp_path: Path
) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, b_png=PNG, nested__c_jpg=JPEG)
    out = tmp_path / "out"
    (out / "nested").mkdir(parents=True)
    (out / "nested" / "c.jpg").write_bytes(b"kept")
    refused = pixpress(server, key, "compress", tree, "-o", out)
    assert refused.returncode == 2
    assert f"{out / 'nested' / 'c.jpg'}: output exists" in refused.stderr.decode()
    assert sorted(p.name for p in out.rglob("*")) == ["c.jpg", "nested"]  # nothing written

    before = action_count(client)
    skipped = pixpress(server, key, "compress", tree, "-o", out, "--skip-existing")
    assert skipped.returncode == 0, skipped.stderr
    assert (out / "nested" / "c.jpg").read_bytes() == b"kept"
    assert (out / "a.jpg").stat().st_size < JPEG.stat().st_size
    assert (out / "b.png").exists()
    cells = summary_cells(skipped.stderr.decode())
    assert (cells["files"], cells["compressed"], cells["skipped"]) == ("2", "2", "1")
    assert action_count(client) == before + 2


# 2. output directories are checked first; errors name the output


def test_an_unwritable_output_is_found_before_compressing_and_named(
    server: ServerProcess, key: str, client: Client, tmp_path: Path
) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, b_png=PNG)
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"a file where a directory should be")
    out = blocker / "out"
    before = action_count(client)
    completed = pixpress(server, key, "compress", tree, "-o", out)
    assert completed.returncode == 1
    stderr = completed.stderr.decode()
    assert stderr.startswith(f"{out}: IO_ERROR: Not a directory"), stderr
    assert str(tree) not in stderr
    assert action_count(client) == before


def test_a_write_failing_after_compression_names_the_output(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, b_png=PNG)
    out = tmp_path / "out"
    (out / "a.jpg" / "in-the-way").mkdir(parents=True)  # a non-empty directory at the output
    completed = pixpress(server, key, "compress", tree, "-o", out, "--force")
    assert completed.returncode == 1
    stderr = completed.stderr.decode()
    assert f"{out / 'a.jpg'}: IO_ERROR: " in stderr
    assert f"{tree / 'a.jpg'}:" not in stderr
    assert (out / "b.png").exists()


def test_image_bytes_are_not_written_to_a_terminal(
    server: ServerProcess, key: str, client: Client
) -> None:
    primary, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env |= {"PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key}
    before = action_count(client)
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "pixpress.cli", "compress", str(JPEG), "-o", "-"],
            stdout=secondary,
            stderr=subprocess.PIPE,
            env=env,
            timeout=WAIT,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert completed.returncode == 2
    assert b"image bytes are not written to a terminal" in completed.stderr
    assert action_count(client) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode 0500 directory")
def test_a_read_only_output_directory_is_found_first(
    server: ServerProcess, key: str, client: Client, tmp_path: Path
) -> None:
    out = tmp_path / "read-only"
    out.mkdir(mode=0o500)
    before = action_count(client)
    completed = pixpress(server, key, "compress", JPEG, PNG, "-o", out)
    assert completed.returncode == 1
    assert completed.stderr.decode().startswith(f"{out}: IO_ERROR: Permission denied")
    assert action_count(client) == before


# 3. -o DIR/ writes into a directory


def test_trailing_slash_writes_into_a_new_directory(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    source = tree_of(tmp_path, photo_jpg=JPEG) / "photo.jpg"
    out = tmp_path / "made" / "here"
    completed = pixpress(server, key, "compress", source, "-o", f"{out}/")
    assert completed.returncode == 0, completed.stderr
    assert out.is_dir()
    assert sniff((out / "photo.jpg").read_bytes()[:64]) == "jpeg"
    assert sorted(p.name for p in out.iterdir()) == ["photo.jpg"]


# 4. --version


@pytest.mark.parametrize("argv", [["--version"], ["compress", "--version"]])
def test_version(server: ServerProcess, key: str, argv: list[str]) -> None:
    completed = pixpress(server, key, *argv)
    assert completed.returncode == 0
    assert completed.stdout.decode() == f"pixpress {__version__}\n"
    assert __version__ == metadata.version("pixpress")


# 5. "-" for stdin and stdout


def test_stdin_to_stdout_through_a_shell_pipe(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env |= {"PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key}
    out = tmp_path / "b.jpg"
    command = f"cat {JPEG} | {sys.executable} -m pixpress.cli compress - -o - > {out}"
    completed = subprocess.run(
        command, shell=True, env=env, capture_output=True, timeout=WAIT, check=False
    )
    assert completed.returncode == 0, completed.stderr
    data = out.read_bytes()
    assert sniff(data[:64]) == "jpeg"  # only image bytes on stdout
    assert 0 < len(data) < JPEG.stat().st_size
    with Image.open(io.BytesIO(data)) as image, Image.open(JPEG) as original:
        assert image.size == original.size
    assert b"saved" in completed.stderr  # the summary went to stderr


@pytest.mark.parametrize(
    "argv",
    [["compress", "-"], ["compress", JPEG, "-o", "-"]],
    ids=["dash-alone-writes-stdout", "file-to-dash"],
)
def test_dash_writes_only_image_bytes_to_stdout(
    server: ServerProcess, key: str, argv: list[object]
) -> None:
    completed = pixpress(server, key, *argv, "-q", "60", stdin=JPEG.read_bytes())
    assert completed.returncode == 0, completed.stderr
    assert sniff(completed.stdout[:64]) == "jpeg"
    assert 0 < len(completed.stdout) < JPEG.stat().st_size
    with Image.open(io.BytesIO(completed.stdout)) as image:
        image.load()


def test_stdin_to_a_file_and_stdin_errors_name_stdin(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    out = tmp_path / "from-stdin.png"
    completed = pixpress(server, key, "compress", "-", "-o", out, stdin=PNG.read_bytes())
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == b""
    assert sniff(out.read_bytes()[:64]) == "png"
    broken = pixpress(server, key, "compress", "-", stdin=b"not an image at all" * 10)
    assert broken.returncode == 1
    assert broken.stdout == b""
    assert broken.stderr.decode().startswith("<stdin>: INVALID_ARGUMENT: unsupported format")


# 6. --json: a line per file


def json_lines(completed: subprocess.CompletedProcess[bytes]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.decode().splitlines()]


def test_json_prints_a_line_per_file_with_the_result_fields(
    server: ServerProcess, key: str, client: Client, tmp_path: Path
) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, b_png=PNG, c_jpg=JPEG)
    (tree / "broken.png").write_bytes((FIXTURES / "png" / "kodim03.png").read_bytes()[:500])
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.jpg").write_bytes(b"there already")
    completed = pixpress(
        server, key, "compress", tree, "-o", out, "--json", "--skip-existing", "-q", "70"
    )
    assert completed.returncode == 1  # broken.png failed
    lines = {Path(line["input"]).name: line for line in json_lines(completed)}
    assert set(lines) == {"a.jpg", "b.png", "broken.png", "c.jpg"}

    good = lines["a.jpg"]
    assert good["output"] == str(out / "a.jpg")
    assert good["format"] == "jpeg"
    assert good["input_size"] == JPEG.stat().st_size
    assert good["output_size"] == (out / "a.jpg").stat().st_size < good["input_size"]
    assert good["saved_bytes"] == good["input_size"] - good["output_size"]
    assert good["saving"] == pytest.approx(good["saved_bytes"] / good["input_size"], abs=1e-5)
    assert (good["quality"], good["effort"], good["kept_original"]) == (70, 5, False)
    assert (good["score"], good["budget_met"], good["error"]) == (None, None, None)
    assert client.actions.retrieve(good["action_id"]).status is ActionStatus.SUCCEEDED
    assert lines["b.png"]["format"] == "png"

    failed = lines["broken.png"]
    assert failed["error"]["code"] == "INVALID_ARGUMENT"
    assert failed["output"] == str(out / "broken.png")
    assert client.actions.retrieve(failed["action_id"]).status is ActionStatus.FAILED
    assert lines["c.jpg"] == {
        "input": str(tree / "c.jpg"),
        "output": str(out / "c.jpg"),
        "skipped": "output exists",
    }


def test_json_reports_the_search_fields(server: ServerProcess, key: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jpg"
    completed = pixpress(server, key, "compress", JPEG, "-o", out, "--json", "--max-bytes", "1M")
    assert completed.returncode == 0, completed.stderr
    (line,) = json_lines(completed)
    assert line["budget_met"] is True
    assert line["output_size"] == out.stat().st_size <= 1_000_000


# 7. --quiet and --verbose; 8. skipped files listed and counted


def test_quiet_prints_errors_only(server: ServerProcess, key: str, tmp_path: Path) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, b_png=PNG)
    good = pixpress(server, key, "compress", tree, "-o", tmp_path / "out", "--quiet")
    assert good.returncode == 0, good.stderr
    assert (good.stdout, good.stderr) == (b"", b"")
    (tree / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    bad = pixpress(server, key, "compress", tree, "-o", tmp_path / "out2", "--quiet")
    assert bad.returncode == 1
    assert bad.stderr.decode().splitlines() == [
        f"{tree / 'broken.png'}: INVALID_ARGUMENT: " + bad.stderr.decode().split(": ", 2)[2].strip()
    ]


def test_verbose_lists_every_file_and_what_the_walk_skipped(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    tree = tree_of(tmp_path / "in", a_jpg=JPEG, nested__b_png=PNG)
    (tree / "notes.txt").write_text("not an image")
    (tree / "link.jpg").symlink_to(tree / "a.jpg")
    out = tmp_path / "out"
    completed = pixpress(server, key, "compress", tree, "-o", out, "-v")
    assert completed.returncode == 0, completed.stderr
    stderr = completed.stderr.decode()
    assert f"{tree / 'notes.txt'}: skipped: not an image\n" in stderr
    assert f"{tree / 'link.jpg'}: skipped: symlink\n" in stderr
    line = re.search(rf"^{re.escape(str(tree / 'a.jpg'))} -> (.+)$", stderr, re.MULTILINE)
    assert line is not None, stderr
    size = (out / "a.jpg").stat().st_size
    assert line.group(1).startswith(
        f"{out / 'a.jpg'}: jpeg {JPEG.stat().st_size:,} -> {size:,} bytes ("
    )
    assert f"{tree / 'nested' / 'b.png'} -> {out / 'nested' / 'b.png'}: png " in stderr
    cells = summary_cells(stderr)
    assert (cells["compressed"], cells["skipped"]) == ("2", "2")

    quiet_about_skips = pixpress(server, key, "compress", tree, "-o", tmp_path / "o2")
    stderr = quiet_about_skips.stderr.decode()
    assert "notes.txt" not in stderr and "link.jpg" not in stderr
    assert summary_cells(stderr)["skipped"] == "2"


# 9. Ctrl-C prints the partial summary


def test_ctrl_c_prints_the_partial_summary_and_exits_130(
    server: ServerProcess, key: str, tmp_path: Path
) -> None:
    total = 40
    tree = tree_of(tmp_path / "in", **{f"p{n:02d}_jpg": JPEG for n in range(total)})
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
    env |= {"PIXPRESS_SERVER": server.address, "PIXPRESS_API_KEY": key}
    command = [sys.executable, "-m", "pixpress.cli", "compress", str(tree), "-o", str(out)]
    with subprocess.Popen(
        [*command, "-j", "1", "-v"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        assert process.stderr is not None
        first = process.stderr.readline()
        assert " -> " in first, first
        process.send_signal(signal.SIGINT)
        rest = process.stderr.read()
        assert process.wait(timeout=WAIT) == 130
    stderr = first + rest
    assert "Traceback" not in stderr
    found = re.search(r"interrupted after (\d+) of (\d+) files", stderr)
    assert found is not None, stderr
    done = int(found.group(1))
    assert 1 <= done < total and int(found.group(2)) == total
    cells = summary_cells(stderr)
    assert int(cells["files"]) == done
    written = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert len(written) >= int(cells["compressed"])
