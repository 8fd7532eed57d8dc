"""The platform through the `pixpress` command (a subprocess each) against a real server: route,
assets and actions commands, compress --async, keys from the flag and the environment."""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
JPEG = FIXTURES / "jpeg" / "Landscape_1.jpg"
PNG = FIXTURES / "png" / "kodim23.png"
ROUTE = "pixpress/compress-an-image"
UNKNOWN_ID = "2f0c3a8e-0000-4000-8000-000000000000"
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass(frozen=True)
class Platform:
    server: ServerProcess
    keys: dict[str, str]

    def env(self, owner: str | None = "alice", **extra: str) -> dict[str, str]:
        """The environment of one command: PIXPRESS_SERVER, and PIXPRESS_API_KEY of `owner`."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PIXPRESS_")}
        env["PIXPRESS_SERVER"] = self.server.address
        if owner is not None:
            env["PIXPRESS_API_KEY"] = self.keys[owner]
        return {**env, **extra}


def pixpress(
    env: Mapping[str, str], *args: str | Path, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `python -m pixpress.cli ARGS`; with `check`, exit status 0 is asserted."""
    completed = subprocess.run(
        [sys.executable, "-m", "pixpress.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
        check=False,
    )
    if check:
        assert completed.returncode == 0, completed.stderr
    return completed


def json_lines(completed: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in completed.stdout.splitlines()]


def refused(completed: subprocess.CompletedProcess[str], code: str) -> str:
    """Assert exit 1 with nothing on stdout and `CODE: message` on stderr; returns stderr."""
    assert (completed.returncode, completed.stdout) == (1, ""), completed.stderr
    assert re.match(rf"^(\S+: )?{code}: \S", completed.stderr), completed.stderr
    return completed.stderr


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("platform-cli")
    keys = {owner: create_key(data_dir, owner) for owner in ("alice", "bob")}
    server = start_server(data_dir, ["--workers", "2"])
    yield Platform(server, keys)
    assert server.stop() == 0, server.log


@pytest.fixture(scope="module")
def alice(platform: Platform) -> dict[str, str]:
    return platform.env("alice")


@pytest.fixture(scope="module")
def uploaded(alice: dict[str, str]) -> str:
    """An asset of alice's: the JPEG fixture."""
    asset_id = pixpress(alice, "assets", "upload", JPEG).stdout.split("\t")[0]
    assert UUID.match(asset_id)
    return asset_id


@pytest.fixture(scope="module")
def finished(alice: dict[str, str]) -> dict[str, Any]:
    """A succeeded action of alice's (compress --async, then watch), as `actions get --json`."""
    action_id = pixpress(alice, "compress", "--async", "-q", "60", JPEG).stdout.strip()
    assert UUID.match(action_id)
    pixpress(alice, "actions", "watch", action_id)
    (action,) = json_lines(pixpress(alice, "actions", "get", action_id, "--json"))
    return action


# route


def test_route_get_as_text_and_json(alice: dict[str, str]) -> None:
    text = pixpress(alice, "route", "get", ROUTE).stdout
    assert text.startswith(f"{ROUTE} (public)\n")
    assert "  description  Compress an image while maintaining its current format\n" in text
    assert re.search(
        r"^ +quality +integer 1-100, default 80: "
        r"Quality setting \(1-100, higher is better quality\)$",
        text,
        re.MULTILINE,
    )
    (route,) = json_lines(pixpress(alice, "route", "get", ROUTE, "--json"))
    assert (route["identifier"], route["owner"], route["name"], route["visibility"]) == (
        ROUTE,
        "pixpress",
        "compress-an-image",
        "public",
    )
    assert route["description"] == "Compress an image while maintaining its current format"
    assert route["metadata"]["parameters"]["quality"] == {
        "type": "integer",
        "description": "Quality setting (1-100, higher is better quality)",
        "default": 80,
        "minimum": 1,
        "maximum": 100,
    }
    assert f"  id           {route['id']}\n" in text
    assert json_lines(pixpress(alice, "route", "get", route["id"], "--json")) == [route]


@pytest.mark.parametrize(
    ("reference", "code"),
    [("pixpress/no-such-route", "NOT_FOUND"), ("not-a-uuid", "INVALID_ARGUMENT")],
)
def test_route_get_errors(alice: dict[str, str], reference: str, code: str) -> None:
    refused(pixpress(alice, "route", "get", reference, check=False), code)


# assets


def test_assets_upload_get_download_rm(alice: dict[str, str], tmp_path: Path) -> None:
    line = pixpress(alice, "assets", "upload", JPEG).stdout
    asset_id, size, image_format, digest = line.rstrip("\n").split("\t")
    assert UUID.match(asset_id)
    expected = JPEG.read_bytes()
    assert (int(size), image_format, digest) == (
        len(expected),
        "jpeg",
        hashlib.sha256(expected).hexdigest(),
    )
    assert pixpress(alice, "assets", "get", asset_id).stdout == line
    (asset,) = json_lines(pixpress(alice, "assets", "get", asset_id, "--json"))
    assert (asset["id"], asset["owner"], asset["size"], asset["sha256"]) == (
        asset_id,
        "alice",
        len(expected),
        digest,
    )

    written = pixpress(alice, "assets", "download", asset_id, "-o", tmp_path / "copy.jpg")
    assert written.stdout == f"{tmp_path / 'copy.jpg'}\n"
    assert (tmp_path / "copy.jpg").read_bytes() == expected
    into_dir = pixpress(alice, "assets", "download", asset_id, "-o", tmp_path).stdout.strip()
    assert into_dir == str(tmp_path / f"{asset_id}.jpg")
    assert Path(into_dir).read_bytes() == expected

    assert pixpress(alice, "assets", "rm", asset_id).stdout == f"deleted {asset_id}\n"
    stderr = refused(pixpress(alice, "assets", "get", asset_id, check=False), "NOT_FOUND")
    assert asset_id in stderr
    stderr = refused(pixpress(alice, "assets", "rm", asset_id, check=False), "NOT_FOUND")
    assert stderr.startswith(f"{asset_id}: NOT_FOUND: ")
    stderr = refused(
        pixpress(alice, "assets", "download", asset_id, "-o", tmp_path / "gone.jpg", check=False),
        "NOT_FOUND",
    )
    assert not (tmp_path / "gone.jpg").exists()


def test_assets_upload_several_and_partial_failures(alice: dict[str, str], tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("plain text, not an image\n" * 10)
    completed = pixpress(
        alice, "assets", "upload", JPEG, text, PNG, tmp_path / "missing.png", check=False
    )
    assert completed.returncode == 1
    rows = [line.split("\t") for line in completed.stdout.splitlines()]
    assert [(Path(row[0]), row[3]) for row in rows] == [(JPEG, "jpeg"), (PNG, "png")]
    assert all(UUID.match(row[1]) for row in rows)
    errors = completed.stderr.splitlines()
    assert errors[0].startswith(f"{text}: INVALID_ARGUMENT: ")
    assert errors[1].startswith(f"{tmp_path / 'missing.png'}: IO_ERROR: ")
    uploaded = json_lines(pixpress(alice, "assets", "upload", PNG, JPEG, "--json"))
    assert [(Path(a["path"]), a["format"]) for a in uploaded] == [(PNG, "png"), (JPEG, "jpeg")]


# actions


def test_compress_async_then_watch_list_and_get(alice: dict[str, str], tmp_path: Path) -> None:
    action_id = pixpress(alice, "compress", "--async", "-q", "60", JPEG).stdout.strip()
    assert UUID.match(action_id)
    watched = pixpress(alice, "actions", "watch", action_id, "--timeout", "60").stdout
    last = watched.splitlines()[-1]
    assert last.startswith(f"{action_id}  succeeded  ") and "output asset " in last
    statuses = [line.split()[1] for line in watched.splitlines()]
    assert len(statuses) == len(set(statuses))

    listed = json_lines(pixpress(alice, "actions", "list", "--json", "--limit", "5"))
    assert listed[0]["id"] == action_id and listed[0]["status"] == "succeeded"
    assert [a["created"] for a in listed] == sorted((a["created"] for a in listed), reverse=True)
    assert pixpress(alice, "actions", "list", "--limit", "1").stdout == f"{last}\n"
    by_route = json_lines(
        pixpress(alice, "actions", "list", "--json", "--route", listed[0]["route_id"])
    )
    assert action_id in {a["id"] for a in by_route}
    assert pixpress(alice, "actions", "list", "--route", UNKNOWN_ID).stdout == ""

    block = pixpress(alice, "actions", "get", action_id).stdout
    assert re.search(rf"^id +{action_id}$", block, re.MULTILINE)
    assert re.search(r"^status +succeeded$", block, re.MULTILINE)
    assert re.search(r"^quality +60$", block, re.MULTILINE)
    (action,) = json_lines(pixpress(alice, "actions", "get", action_id, "--json"))
    assert action == listed[0]
    assert action["request"]["store_output"] and action["request"]["input_asset_id"]
    output_id = action["response"]["output_asset_id"]
    assert output_id in last
    pixpress(alice, "assets", "download", output_id, "-o", tmp_path / "out.jpg")
    (output,) = json_lines(pixpress(alice, "assets", "get", output_id, "--json"))
    data = (tmp_path / "out.jpg").read_bytes()
    assert len(data) == output["size"] == action["response"]["output_size"]
    assert hashlib.sha256(data).hexdigest() == output["sha256"]


def test_compress_async_several_files(alice: dict[str, str]) -> None:
    rows = pixpress(alice, "compress", "--async", JPEG, PNG).stdout.splitlines()
    assert [Path(row.split("\t")[0]) for row in rows] == [JPEG, PNG]
    for row in rows:
        action_id = row.split("\t")[1]
        watched = pixpress(alice, "actions", "watch", action_id, "--json", "--timeout", "60")
        assert json_lines(watched)[-1]["status"] == "succeeded"


def test_cancel_a_finished_action_is_refused(
    alice: dict[str, str], finished: dict[str, Any]
) -> None:
    stderr = refused(
        pixpress(alice, "actions", "cancel", finished["id"], check=False), "FAILED_PRECONDITION"
    )
    assert finished["id"] in stderr
    (action,) = json_lines(pixpress(alice, "actions", "get", finished["id"], "--json"))
    assert action["status"] == "succeeded"


def test_cancel_a_running_action(alice: dict[str, str], tmp_path: Path) -> None:
    import pyvips

    big = tmp_path / "big.png"
    big.write_bytes(
        bytes(pyvips.Image.new_from_file(str(PNG)).resize(6).pngsave_buffer(compression=1))
    )
    action_id = pixpress(alice, "compress", "--async", "-q", "40", big).stdout.strip()
    command = [sys.executable, "-m", "pixpress.cli", "actions", "watch", action_id, "--json"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=alice) as watch:
        assert watch.stdout is not None
        statuses = []
        for line in watch.stdout:
            statuses.append(json.loads(line)["status"])
            if statuses[-1] != "queued":
                break
        assert statuses[-1] == "running", statuses
        cancelled = pixpress(alice, "actions", "cancel", action_id).stdout
        assert cancelled.startswith(f"{action_id}  cancelled  ")
        statuses += [json.loads(line)["status"] for line in watch.stdout]
        assert watch.wait(60) == 1  # the watched action did not succeed
    assert statuses[-2:] == ["running", "cancelled"]


# errors: other owners, malformed ids, keys


@pytest.mark.parametrize(
    "command",
    [
        ("assets", "get", "{asset}"),
        ("assets", "download", "{asset}", "-o", "{tmp}"),
        ("assets", "rm", "{asset}"),
        ("actions", "get", "{action}"),
        ("actions", "watch", "{action}"),
        ("actions", "cancel", "{action}"),
    ],
    ids=lambda command: " ".join(command[:2]),
)
def test_another_owners_assets_and_actions_are_not_found(
    platform: Platform,
    uploaded: str,
    finished: dict[str, Any],
    tmp_path: Path,
    command: tuple[str, ...],
) -> None:
    values = {"asset": uploaded, "action": finished["id"], "tmp": str(tmp_path)}
    args = [part.format(**values) for part in command]
    refused(pixpress(platform.env("bob"), *args, check=False), "NOT_FOUND")
    assert not list(tmp_path.iterdir())
    assert pixpress(platform.env("alice"), "assets", "get", uploaded).stdout.startswith(uploaded)


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (("assets", "get", "12345"), "INVALID_ARGUMENT"),
        (("actions", "watch", "../etc/passwd"), "INVALID_ARGUMENT"),
        (("actions", "get", UNKNOWN_ID), "NOT_FOUND"),
    ],
    ids=["asset-malformed", "action-malformed", "action-unknown"],
)
def test_bad_ids(alice: dict[str, str], command: tuple[str, ...], code: str) -> None:
    refused(pixpress(alice, *command, check=False), code)


def test_missing_or_wrong_key_is_unauthenticated(platform: Platform, uploaded: str) -> None:
    nobody = platform.env(owner=None)
    stderr = refused(pixpress(nobody, "route", "get", ROUTE, check=False), "UNAUTHENTICATED")
    assert "PIXPRESS_API_KEY" in stderr
    refused(pixpress(nobody, "actions", "list", check=False), "UNAUTHENTICATED")
    completed = pixpress(nobody, "compress", "--async", JPEG, check=False)
    assert completed.returncode == 1
    assert completed.stderr.startswith(f"{JPEG}: UNAUTHENTICATED: ")
    wrong = "pxp_AAAAAAAAAAAA_" + "B" * 40
    refused(
        pixpress(nobody, "assets", "get", uploaded, "--api-key", wrong, check=False),
        "UNAUTHENTICATED",
    )
    refused(
        pixpress(platform.env(PIXPRESS_API_KEY=wrong), "assets", "get", uploaded, check=False),
        "UNAUTHENTICATED",
    )


def test_keys_are_stripped_and_a_space_inside_is_a_usage_error(
    platform: Platform, uploaded: str
) -> None:
    key = platform.keys["alice"]
    newline = platform.env(PIXPRESS_API_KEY=key + "\n")  # as a script's $(...) may keep it
    assert pixpress(newline, "assets", "get", uploaded).stdout.startswith(uploaded)
    flag = ("--api-key", f" {key}\r\n")
    assert pixpress(platform.env(None), "assets", "get", uploaded, *flag).stdout.startswith(
        uploaded
    )
    spaced = platform.env(PIXPRESS_API_KEY=f"{key[:10]} {key[10:]}")
    for command in (("assets", "get", uploaded), ("compress", str(JPEG), "-o", "/nonexistent")):
        completed = pixpress(spaced, *command, check=False)
        assert (completed.returncode, completed.stdout) == (2, ""), completed.stderr
        assert "The API key from PIXPRESS_API_KEY contains whitespace at character 11" in (
            completed.stderr
        )
        assert key[10:] not in completed.stderr and key[:10] not in completed.stderr


def test_flags_override_the_environment(platform: Platform, uploaded: str) -> None:
    """--server and --api-key win over PIXPRESS_SERVER and PIXPRESS_API_KEY."""
    wrong = platform.env(PIXPRESS_SERVER="127.0.0.1:1", PIXPRESS_API_KEY="pxp_notakey")
    args = ("--server", platform.server.address, "--api-key", platform.keys["alice"])
    assert pixpress(wrong, "assets", "get", uploaded, *args).stdout.startswith(uploaded)
    refused(pixpress(wrong, "assets", "get", uploaded, check=False), "UNAVAILABLE")
    bob = ("--api-key", platform.keys["bob"])
    refused(
        pixpress(platform.env("alice"), "assets", "get", uploaded, *bob, check=False), "NOT_FOUND"
    )
