"""`pixpress route|assets|actions` and `compress --async` against the in-process platform fakes."""

from __future__ import annotations

import json

import pytest
from pixpress.cli import main

from tests.unit.client_platform_fakes import (
    FAILED,
    ROUTE_ID,
    ROUTE_IDENTIFIER,
    RUNNING,
    SUCCEEDED,
    platform_server,
)


@pytest.fixture
def platform(monkeypatch):
    monkeypatch.delenv("PIXPRESS_API_KEY", raising=False)
    with platform_server() as (target, state):
        monkeypatch.setenv("PIXPRESS_SERVER", target)
        yield state


@pytest.fixture
def state(platform):
    return platform


def run(capsys, *argv):
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_route_get_human(state, capsys):
    code, out, err = run(capsys, "route", "get", ROUTE_IDENTIFIER)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == "pixpress/compress-an-image (public)"
    assert f"  id           {ROUTE_ID}" in lines
    assert (
        "    quality        integer 1-100, default 80: 1 (smallest) to 100 (lossless only)" in lines
    )
    assert "    keep_metadata  boolean, default false: keep EXIF, XMP, IPTC" in lines


def test_route_get_json_by_id(state, capsys):
    code, out, _ = run(capsys, "route", "get", ROUTE_ID, "--json")
    data = json.loads(out)
    assert code == 0
    assert (data["identifier"], data["visibility"]) == (ROUTE_IDENTIFIER, "public")
    assert data["metadata"]["parameters"]["quality"]["maximum"] == 100
    assert "client" not in data


def test_api_key_flag_is_sent(state, capsys):
    run(capsys, "route", "get", ROUTE_ID, "--api-key", "flag-key")
    assert state.calls[-1][2]["authorization"] == "Bearer flag-key"


def test_not_found_prints_code_and_message(state, capsys):
    code, out, err = run(capsys, "route", "get", "nobody/nothing")
    assert (code, out) == (1, "")
    assert err == "NOT_FOUND: no route nobody/nothing\n"


def test_unreachable_server(capsys):
    code, _, err = run(capsys, "actions", "get", "x", "--server", "localhost:1")
    assert code == 1
    assert err.startswith("UNAVAILABLE: ")


def test_assets_upload_get_download_rm(state, tmp_path, capsys):
    a, b = tmp_path / "a.jpg", tmp_path / "b.png"
    a.write_bytes(b"aaaa")
    b.write_bytes(b"\x89PNG\r\n\x1a\nbbbb")
    code, out, err = run(capsys, "assets", "upload", str(a))
    assert (code, err) == (0, "")
    asset_id, size, fmt, sha = out.strip().split("\t")
    assert (size, fmt, len(sha)) == ("4", "jpeg", 64)

    code, out, _ = run(capsys, "assets", "upload", str(a), str(b))
    lines = [line.split("\t") for line in out.splitlines()]
    assert [(line[0], line[3]) for line in lines] == [(str(a), "jpeg"), (str(b), "png")]

    code, out, _ = run(capsys, "assets", "get", asset_id, "--json")
    assert json.loads(out)["sha256"] == sha

    target = tmp_path / "out" / "copy.jpg"
    target.parent.mkdir()
    code, out, _ = run(capsys, "assets", "download", asset_id, "-o", str(target))
    assert (code, out, target.read_bytes()) == (0, f"{target}\n", b"aaaa")
    code, out, _ = run(capsys, "assets", "download", asset_id, "-o", str(target.parent))
    assert out == f"{target.parent / (asset_id + '.jpg')}\n"

    code, out, err = run(capsys, "assets", "rm", asset_id, "missing")
    assert code == 1
    assert out == f"deleted {asset_id}\n"
    assert err == "missing: NOT_FOUND: no asset missing\n"


def test_upload_failures_are_prefixed_with_the_path(state, tmp_path, capsys):
    good, bad = tmp_path / "good.jpg", tmp_path / "bad.jpg"
    good.write_bytes(b"fine")
    bad.write_bytes(b"ABORT")
    code, out, err = run(capsys, "assets", "upload", str(good), str(bad), str(tmp_path / "no.jpg"))
    assert code == 1
    assert out.startswith(f"{good}\t")
    assert f"{bad}: INVALID_ARGUMENT: unsupported format: unknown\n" in err
    assert f"{tmp_path / 'no.jpg'}: IO_ERROR: No such file or directory\n" in err


def test_upload_json_lines(state, tmp_path, capsys):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"x")
    _, out, _ = run(capsys, "assets", "upload", str(path), str(path), "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert [row["path"] for row in rows] == [str(path)] * 2
    assert rows[0]["created"] == "2025-01-02T03:04:05Z"


def test_download_into_a_missing_directory_is_an_io_error(state, tmp_path, capsys):
    asset_id = state.add_asset(b"x").id
    target = tmp_path / "nowhere" / "x.jpg"
    code, _, err = run(capsys, "assets", "download", asset_id, "-o", str(target))
    assert code == 1
    assert err == f"{target}: IO_ERROR: No such file or directory\n"


def test_actions_list_filters_and_limits(state, capsys):
    ids = [state.add_action(script=[]).id for _ in range(4)]
    done = state.add_action(SUCCEEDED).id
    code, out, _ = run(capsys, "actions", "list", "--status", "queued", "--limit", "3")
    assert code == 0
    assert [line.split()[0] for line in out.splitlines()] == ids[::-1][:3]
    assert "queued" in out.splitlines()[0]
    _, out, _ = run(capsys, "actions", "list", "--route", ROUTE_ID, "--json")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows[0]["id"] == done and rows[0]["status"] == "succeeded"
    assert rows[0]["response"]["output_size"] == 6
    assert state.calls[-1][1].route_id == ROUTE_ID


def test_actions_get_block(state, capsys):
    action_id = state.add_action(FAILED).id
    code, out, _ = run(capsys, "actions", "get", action_id)
    assert code == 0
    assert f"id             {action_id}" in out.splitlines()
    assert "error          INVALID_ARGUMENT: corrupt" in out.splitlines()


@pytest.mark.parametrize(("final", "exit_code"), [(SUCCEEDED, 0), (FAILED, 1)])
def test_actions_watch_prints_each_change(state, capsys, final, exit_code):
    action_id = state.add_action(script=[RUNNING, final]).id
    code, out, _ = run(capsys, "actions", "watch", action_id)
    assert code == exit_code
    statuses = [line.split()[1] for line in out.splitlines()]
    assert statuses == ["queued", "running", "succeeded" if final == SUCCEEDED else "failed"]


def test_actions_watch_times_out(state, capsys):
    state.watch_mode = "end"
    action_id = state.add_action(script=[RUNNING] * 1000).id
    code, _, err = run(capsys, "actions", "watch", action_id, "--timeout", "0.1")
    assert code == 1
    assert err.startswith(f"DEADLINE_EXCEEDED: action {action_id} did not finish within 0.1 s")


def test_actions_cancel(state, capsys):
    action_id = state.add_action().id
    code, out, _ = run(capsys, "actions", "cancel", action_id, "--json")
    assert (code, json.loads(out)["status"]) == (0, "cancelled")
    code, _, err = run(capsys, "actions", "cancel", action_id)
    assert (code, err) == (1, "FAILED_PRECONDITION: the action has finished\n")


def test_compress_async_one_file_prints_the_action_id(state, tmp_path, capsys):
    path = tmp_path / "a.jpg"
    path.write_bytes(b"image")
    code, out, err = run(capsys, "compress", "--async", str(path), "-q", "55")
    assert (code, err) == (0, "")
    action = state.actions[out.strip()]
    assert action.request.quality == 55
    assert state.assets[action.request.input_asset_id][1] == b"image"
    assert not (tmp_path / "a.min.jpg").exists()


def test_compress_async_several_prints_path_tab_id(state, tmp_path, capsys):
    (tmp_path / "d").mkdir()
    a, b, bad = tmp_path / "d" / "a.jpg", tmp_path / "d" / "b.png", tmp_path / "bad.jpg"
    a.write_bytes(b"a")
    b.write_bytes(b"b")
    bad.write_bytes(b"ABORT")
    code, out, err = run(capsys, "compress", "--async", str(tmp_path / "d"), str(bad))
    assert code == 1
    rows = [line.split("\t") for line in out.splitlines()]
    assert [row[0] for row in rows] == [str(a), str(b)]
    assert all(row[1] in state.actions for row in rows)
    assert err == f"{bad}: INVALID_ARGUMENT: unsupported format: unknown\n"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compress", "--async", "a.jpg", "-o", "x"], "cannot be combined with -o"),
        (["compress", "--async", "missing.jpg"], "missing.jpg: no such file or directory"),
        (["actions", "list", "--status", "done"], "invalid choice: 'done'"),
        (["actions", "list", "--limit", "0"], "for limit but received 0"),
        (["actions", "watch", "x", "--timeout", "-1"], "for timeout but received -1"),
        (["actions", "get", ""], "Expected non-empty string for action_id"),
        (["assets"], "required: COMMAND"),
        (["route", "get"], "required: ID_OR_IDENTIFIER"),
    ],
)
def test_usage_errors_exit_2(state, tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"a")
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
