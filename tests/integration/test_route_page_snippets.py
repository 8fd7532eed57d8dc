"""The route page's Python snippets, run as written against a real server: extracted from the
page's text, with only Ouro's names swapped for pixpress's, each exec()'d and its output read.

The page is `tests/fixtures/route-page/compress-an-image.txt`, a byte-for-byte copy of the
route page the project started from (`shared/seed/000_964958b60d3d8507.txt`). It is
flattened text: each snippet's last line runs into the next paragraph, and the body of its
one `for` loop lost its indentation; both are undone mechanically, nothing is retyped.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pixpress import Client

from tests.integration.server_process import ServerProcess, create_key, start_server

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "tests" / "fixtures" / "route-page" / "compress-an-image.txt"
JPEG = REPO / "tests" / "fixtures" / "jpeg" / "Landscape_1.jpg"
PAGE_ROUTE_ID = "6e8bf803-009e-4ccc-b968-09366eba9fcc"  # the id the page retrieves
SNIPPET_STARTS = ("import os", "# Retrieve the route")
WAIT = 120.0


def _statement_end(line: str) -> int | None:
    """Where a `print(...)` line's call ends when prose was glued after it, else None."""
    depth = 0
    for index, character in enumerate(line):
        depth += {"(": 1, ")": -1}.get(character, 0)
        if depth == 0 and character == ")":
            end = index + 1
            if end == len(line):
                return None
            ast.parse(line[:end])  # the cut leaves a whole statement
            return end
    return None


def _reindent(lines: list[str]) -> list[str]:
    """Indent what follows a block header (`for ...:`) to the snippet's end, as on the page."""
    out: list[str] = []
    indent = ""
    for line in lines:
        out.append(indent + line)
        if line.rstrip().endswith(":") and not line.lstrip().startswith("#"):
            indent += "    "
    return out


def extract_snippets(text: str) -> list[str]:
    """Every Python snippet of the page, in order, as the page has it."""
    lines = text.splitlines()
    snippets: list[str] = []
    index = 0
    while index < len(lines):
        if lines[index] not in SNIPPET_STARTS:
            index += 1
            continue
        code: list[str] = []
        while index < len(lines):
            line = lines[index]
            index += 1
            end = _statement_end(line) if line.startswith("print(") else None
            if end is not None:
                code.append(line[:end])
                break
            code.append(line)
        snippets.append("\n".join(_reindent(code)) + "\n")
    return snippets


SWAPS = (
    ("from ouro import Ouro", "import pixpress"),
    ("Ouro(", "pixpress.Client("),
    ("OURO_API_KEY", "PIXPRESS_API_KEY"),
    ("hermes/", "pixpress/"),
)


def to_pixpress(snippet: str, file_id: str) -> str:
    """Only the names: the SDK, its key variable, the route's owner, the placeholder file id."""
    for old, new in (*SWAPS, ('"your-file-id"', repr(file_id))):
        snippet = snippet.replace(old, new)
    return snippet


@dataclass
class Page:
    server: ServerProcess
    snippets: list[str]
    file_id: str
    namespace: dict[str, Any] = field(default_factory=lambda: {"__name__": "route_page"})
    ran: set[int] = field(default_factory=set)

    def run(self, index: int, *, after: tuple[int, ...] = (0,)) -> str:
        """exec() snippet `index` (swapped) in the page's one namespace, as a reader runs the
        page top to bottom; the snippets in `after` run first if they have not yet (the first
        one creates `ouro`). Returns what `index` printed."""
        for earlier in after:
            if earlier not in self.ran and earlier != index:
                self.run(earlier, after=())
        code = compile(to_pixpress(self.snippets[index], self.file_id), f"snippet-{index}", "exec")
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(code, self.namespace)
        self.ran.add(index)
        return output.getvalue()


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    snippets = extract_snippets(PAGE.read_text(encoding="utf-8"))
    data_dir = tmp_path_factory.mktemp("route-page")
    key = create_key(data_dir, "alice")
    server = start_server(data_dir, ["--workers", "1", "--route-id", PAGE_ROUTE_ID])
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("PIXPRESS_API_KEY", key)
            env.setenv("PIXPRESS_SERVER", server.address)
            with Client() as client:
                file_id = client.assets.upload(JPEG).id
            page = Page(server, snippets, file_id)
            yield page
            ouro = page.namespace.get("ouro")
            if isinstance(ouro, Client):
                ouro.close()
    finally:
        assert server.stop() == 0, server.log


def test_the_page_has_four_snippets_in_ouro_names() -> None:
    snippets = extract_snippets(PAGE.read_text(encoding="utf-8"))
    assert [s.splitlines()[-1] for s in snippets] == [
        "print(route.metadata)",
        "print(response)",
        "print(response)",
        "    print(f\"Response: {action.get('response_data')}\")",
    ]
    assert "from ouro import Ouro" in snippets[0] and "Ouro(api_key=" in snippets[0]
    assert all('"hermes/compress-an-image"' in s for s in snippets)
    assert '"assetId": "your-file-id"' in snippets[2]
    for snippet in snippets:
        compile(snippet, "snippet", "exec")  # whole Python, as cut from the page


def test_retrieve_by_id_and_identifier(page: Page) -> None:
    lines = page.run(0).splitlines()
    assert lines[0] == "compress-an-image public"
    metadata = ast.literal_eval(lines[1])
    assert metadata["parameters"]["quality"]["maximum"] == 100
    assert page.namespace["route"].id == PAGE_ROUTE_ID


def test_use_with_a_body_only_prints_the_failed_action(page: Page) -> None:
    printed = json.loads(page.run(1))
    assert printed["status"] == "failed" and printed["response_data"] is None
    assert printed["error"]["code"] == "INVALID_ARGUMENT"
    assert "no input image" in printed["error"]["message"]
    assert printed["request_data"]["quality"] == 85
    assert printed["route_id"] == PAGE_ROUTE_ID


def test_use_with_an_asset_prints_the_succeeded_action(page: Page) -> None:
    printed = json.loads(page.run(2))
    assert printed["status"] == "succeeded" and printed["error"] is None
    assert printed["request_data"]["input_asset_id"] == page.file_id
    assert printed["request_data"]["quality"] == 85
    response = printed["response_data"]
    assert response["format"] == "jpeg" and response["output_asset_id"]
    assert 0 < response["output_size"] <= JPEG.stat().st_size
    with Client() as client:
        assert client.assets.retrieve(response["output_asset_id"]).size == response["output_size"]


def test_read_actions_prints_ids_statuses_and_responses(page: Page) -> None:
    for earlier in (1, 2):  # the uses above, when this test runs alone
        if earlier not in page.ran:
            page.run(earlier)
    with Client() as client:
        expected = [(a.id, a.status.value) for a in client.actions.list(route_id=PAGE_ROUTE_ID)]
    output = page.run(3)
    listing, _, loop = output.partition("Action ID: ")
    assert [a["id"] for a in json.loads(listing)["actions"]] == [i for i, _ in expected]
    rows = re.findall(r"Action ID: (\S+)\nStatus: (\S+)\nResponse: (.*)\n", "Action ID: " + loop)
    assert [(i, s) for i, s, _ in rows] == expected
    assert {s for _, s, _ in rows} >= {"succeeded", "failed"}
    for _, status, response in rows:
        if status == "succeeded":
            assert ast.literal_eval(response)["format"] == "jpeg"
        else:
            assert response == "None"
