"""`pixpress compress --effort --target-score --max-bytes`: parsing, usage errors, what is
sent, and the summary."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pixpress import Action, ActionRequest, ActionResponse, ActionStatus, cli
from pixpress._plan import Job
from pixpress._render import action_block
from pixpress._results import CompressResult
from pixpress._sizes import parse_size
from pixpress.cli import Choices, Summary, build_parser, main


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("1", 1),
        ("200000", 200_000),
        ("200k", 200_000),
        ("200K", 200_000),
        ("200kB", 200_000),
        ("1.5M", 1_500_000),
        ("1MiB", 1_048_576),
        ("1mib", 1_048_576),
        ("64KiB", 65_536),
        ("2G", 2_000_000_000),
        ("1GiB", 1_073_741_824),
        (" 12 k ", 12_000),
        ("0.5k", 500),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "k", "0", "0k", "1.5", "1.0001k", "-1", "1 TB", "1e6", "x"])
def test_bad_sizes(text: str) -> None:
    with pytest.raises(ValueError, match=repr(text)):
        parse_size(text)


def test_engine_flags_parse() -> None:
    argv = ["compress", "a.jpg", "--effort", "3", "--target-score", "82.5", "-o", "o.jpg"]
    args = build_parser().parse_args(argv)
    assert (args.effort, args.target_score, args.max_bytes, args.quality) == (3, 82.5, None, None)
    args = build_parser().parse_args(["compress", "a.jpg", "-q", "70", "--max-bytes", "200k"])
    assert (args.quality, args.max_bytes, args.target_score) == (70, 200_000, None)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--effort", "0"], "Expected integer between 1 and 10 for effort but received 0"),
        (["--effort", "11"], "Expected integer between 1 and 10 for effort but received 11"),
        (["--effort", "fast"], "for effort but received fast"),
        (["--target-score", "29.9"], "Expected number between 30 and 95 for target_score"),
        (["--target-score", "95.1"], "for target_score but received 95.1"),
        (["--target-score", "nan"], "for target_score but received nan"),
        (["--max-bytes", "0"], "at least 1, but received '0' for max_bytes"),
        (["--max-bytes", "lots"], "Expected a size such as 200000, 200k or 1MiB"),
        (["-q", "80", "--target-score", "80"], "Send quality or target_score, not both"),
    ],
)
def test_engine_usage_errors_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    source = tmp_path / "a.jpg"
    source.write_bytes(b"jpeg")
    with pytest.raises(SystemExit) as exited:
        # localhost:1 serves nothing: these must fail before any call.
        main(["compress", str(source), "--server", "localhost:1", *flags])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def compress(self, source: Path, quality: int | None, keep_metadata: bool, **engine: Any):
        self.calls.append((source, quality, keep_metadata, engine))
        return "result"


def test_choices_reach_the_client(tmp_path: Path) -> None:
    job = Job(source=tmp_path / "a.png", destination=tmp_path / "out.png")
    recorder = _Recorder()
    choices = Choices(quality=None, keep_metadata=True, effort=9, target_score=70.0)
    assert cli.compress_with_retries(recorder, job, choices) == "result"  # type: ignore[arg-type]
    assert recorder.calls == [
        (job.source, None, True, {"effort": 9, "target_score": 70.0, "max_bytes": None})
    ]


def test_title_names_what_was_asked() -> None:
    assert Choices().title() == "pixpress compress"
    assert Choices(quality=70, effort=2, max_bytes=200_000).title() == (
        "pixpress compress (quality 70, max bytes 200,000, effort 2)"
    )
    assert Choices(target_score=80.0).title() == "pixpress compress (target score 80.0)"


def _result(size: int, score: float | None = None, budget_met: bool | None = None):
    return CompressResult(
        data=b"",
        format="jpeg",
        input_size=1000,
        output_size=size,
        width=1,
        height=1,
        frames=1,
        kept_original=False,
        kept_original_reason="",
        quality=70,
        score=score,
        budget_met=budget_met,
    )


def _headers(summary: Summary) -> list[str]:
    return [str(column.header) for column in summary.table().columns]


def test_summary_shows_scores_and_budgets_only_when_asked() -> None:
    plain = Summary()
    plain.add(_result(500))
    assert "lowest score" not in _headers(plain) and "over budget" not in _headers(plain)

    scored = Summary()
    for score in (71.0, 80.5, 75.0):
        scored.add(_result(500, score=score))
    headers = _headers(scored)
    cells = [next(iter(column.cells)) for column in scored.table().columns]
    row = dict(zip(headers, cells, strict=True))
    assert (row["lowest score"], row["median score"]) == ("71.0", "75.0")

    budget = Summary()
    budget.add(_result(500, budget_met=True))
    budget.add(_result(900, budget_met=False))
    headers = _headers(budget)
    cells = [next(iter(column.cells)) for column in budget.table().columns]
    assert dict(zip(headers, cells, strict=True))["over budget"] == "1"


def test_action_block_shows_what_was_asked_and_chosen() -> None:
    request = ActionRequest(
        quality=0,
        keep_metadata=False,
        input_asset_id="",
        input_size=10,
        input_format="jpeg",
        store_output=False,
        effort=3,
        target_score=80.0,
    )
    response = ActionResponse(
        format="jpeg",
        output_size=5,
        width=1,
        height=1,
        frames=1,
        kept_original=False,
        kept_original_reason="",
        output_asset_id="",
        quality=64,
        effort=3,
        score=81.234,
    )
    action = Action(
        id="a",
        route_id="r",
        owner="o",
        status=ActionStatus.SUCCEEDED,
        request=request,
        response=response,
        error=None,
        created=None,
        started=None,
        finished=None,
    )
    block = action_block(action)
    for line in ("target score +80", "effort +3", "quality chosen +64", "score +81.23"):
        assert re.search(f"^{line}$", block, re.MULTILINE), line
    assert not re.search("^quality +0$", block, re.MULTILINE)
    assert "budget met" not in block and "max bytes" not in block
