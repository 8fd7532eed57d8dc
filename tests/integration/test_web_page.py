"""The web page at `/` in a real headless Chromium (Debian's, driven by Playwright) against a
real server: drop a JPEG and a PNG, the sizes the API gave, downloads, the zip, the key."""

from __future__ import annotations

import base64
import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server

try:
    from playwright import sync_api
except ImportError:  # a venv from before the dev extras had it; CI's is always fresh
    if os.environ.get("CI"):
        raise
    pytest.skip("playwright is not installed (pip install -e '.[dev]')", allow_module_level=True)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WAIT_MS = 90_000  # a shared 2-core machine: compressing two photos can take a while

# CI installs chromium (.ci/run), so there a missing browser fails instead of skipping.
pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not os.environ.get("CI"),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)",
)


@dataclass
class Image:
    path: Path
    mime: str
    magic: bytes


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir = tmp_path_factory.mktemp("web-page")
    process = start_server(data_dir, ["--workers", "2"])
    process.api_key = create_key(data_dir, "alice")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> list[Image]:
    folder = tmp_path_factory.mktemp("web-images")
    copies = []
    for source, mime, magic in (
        (FIXTURES / "jpeg" / "Landscape_1.jpg", "image/jpeg", b"\xff\xd8\xff"),
        (FIXTURES / "png" / "kodim23.png", "image/png", b"\x89PNG"),
    ):
        copy = folder / source.name
        shutil.copyfile(source, copy)
        copies.append(Image(copy, mime, magic))
    return copies


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        # Playwright gives each launch a fresh, empty profile (its own --user-data-dir).
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def page(browser: Any, server: ServerProcess, images: list[Image]) -> Iterator[Any]:
    """One tab with the key entered and the two images dropped and compressed at quality 80."""
    context = browser.new_context(accept_downloads=True, viewport={"width": 1100, "height": 900})
    tab = context.new_page()
    tab.goto(f"http://{server.http_address}/")
    tab.fill("#key-input", server.api_key)
    tab.click("#key-form button[type=submit]")
    drop(tab, images)
    wait_until_done(tab, len(images))
    yield tab
    context.close()


def drop(tab: Any, images: list[Image]) -> None:
    """A real drop event on the drop zone, its DataTransfer holding the files' bytes."""
    files = [
        {"name": i.path.name, "type": i.mime, "b64": base64.b64encode(i.path.read_bytes()).decode()}
        for i in images
    ]
    tab.evaluate(
        """(files) => {
            const transfer = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], f.name, { type: f.type }));
            }
            const zone = document.getElementById("drop-zone");
            for (const type of ["dragenter", "dragover", "drop"]) {
                const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
                zone.dispatchEvent(new DragEvent(type, init));
            }
        }""",
        files,
    )


def wait_until_done(tab: Any, count: int, quality: int | None = None) -> None:
    wanted = "Done at quality" if quality is None else f"Done at quality {quality}"
    tab.wait_for_function(
        """([count, wanted]) => {
            const rows = [...document.querySelectorAll("#file-list .file")];
            return rows.length === count && rows.every(
                (r) => r.dataset.status === "done" && r.querySelector(".file-status")
                    .textContent.startsWith(wanted));
        }""",
        arg=[count, wanted],
        timeout=WAIT_MS,
    )


def rows(tab: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = tab.eval_on_selector_all(
        "#file-list .file",
        """(rows) => rows.map((r) => ({
            name: r.querySelector(".file-name").textContent,
            input: Number(r.querySelector(".input-size").value),
            output: Number(r.querySelector(".output-size").value),
            outputText: r.querySelector(".output-size").textContent,
            saving: r.querySelector(".saving").textContent,
            status: r.querySelector(".file-status").textContent,
            actionId: r.dataset.actionId,
            download: r.querySelector(".download").getAttribute("download"),
        }))""",
    )
    return result


def api(server: ServerProcess) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://{server.http_address}",
        headers={"Authorization": f"Bearer {server.api_key}"},
        timeout=120,
    )


def test_dropped_jpeg_and_png_show_the_sizes_the_api_gave(
    page: Any, server: ServerProcess, images: list[Image]
) -> None:
    shown = rows(page)
    assert [row["name"] for row in shown] == [i.path.name for i in images]
    with api(server) as http:
        for row, image in zip(shown, images, strict=True):
            size = image.path.stat().st_size
            assert row["input"] == size
            assert 0 < row["output"] < size, row
            assert row["saving"].startswith("\N{MINUS SIGN}"), row
            percent = (size - row["output"]) / size * 100
            assert f"{percent:.1f}%" in row["saving"]
            action = http.get(f"/v1/actions/{row['actionId']}").json()
            assert action["status"] == "succeeded"
            assert action["response_data"]["output_size"] == row["output"]
            assert action["request_data"]["input_size"] == size
            # The same request made directly: the API's own header says the same size.
            direct = http.post(
                "/v1/compress", params={"quality": 80}, content=image.path.read_bytes()
            )
            assert direct.status_code == 200, direct.text
            assert int(direct.headers["x-pixpress-output-size"]) == row["output"]
    totals = page.inner_text("#totals")
    assert totals.startswith("2 of 2 compressed")


def test_each_file_downloads_under_its_own_name(page: Any, images: list[Image]) -> None:
    shown = {row["name"]: row for row in rows(page)}
    for image in images:
        link = page.locator(f".file:has(.file-name:text-is('{image.path.name}')) a.download")
        with page.expect_download() as info:
            link.click()
        download = info.value
        assert download.suggested_filename == image.path.name
        data = Path(download.path()).read_bytes()
        assert data.startswith(image.magic)
        assert len(data) == shown[image.path.name]["output"]


def test_download_all_is_a_zip_of_every_result(page: Any, images: list[Image]) -> None:
    shown = {row["name"]: row for row in rows(page)}
    with page.expect_download() as info:
        page.click("#download-all")
    download = info.value
    assert download.suggested_filename == "pixpress-compressed.zip"
    with zipfile.ZipFile(io.BytesIO(Path(download.path()).read_bytes())) as archive:
        assert archive.testzip() is None  # every entry's CRC-32 checks
        entries = archive.infolist()
        assert [entry.filename for entry in entries] == [i.path.name for i in images]
        for entry, image in zip(entries, images, strict=True):
            assert entry.compress_type == zipfile.ZIP_STORED
            assert entry.file_size == shown[image.path.name]["output"]
            assert archive.read(entry).startswith(image.magic)


def test_compare_shows_both_images_at_one_to_one_with_a_keyboard_divider(page: Any) -> None:
    page.locator(".file").first.locator(".show-compare").click()
    page.wait_for_function(
        """() => ["compare-original", "compare-result"].every(
            (id) => document.getElementById(id).complete
                && document.getElementById(id).naturalWidth > 0)"""
    )
    sizes = page.evaluate(
        """() => ["compare-original", "compare-result"].map((id) => {
            const img = document.getElementById(id);
            return [img.naturalWidth, img.getBoundingClientRect().width, devicePixelRatio];
        })"""
    )
    for natural, shown, ratio in sizes:
        assert natural == 1800
        assert shown == pytest.approx(natural / ratio, abs=1)
    divider = page.locator("#compare-divider")
    assert page.evaluate("document.activeElement.id") == "compare-divider"
    assert divider.get_attribute("aria-valuenow") == "50"
    divider.press("ArrowLeft")
    assert divider.get_attribute("aria-valuenow") == "49"
    divider.press("Shift+ArrowRight")
    assert divider.get_attribute("aria-valuenow") == "59"
    divider.press("End")
    assert divider.get_attribute("aria-valuenow") == "100"
    clip = page.evaluate("getComputedStyle(document.getElementById('compare-clip')).clipPath")
    assert "100%" in clip
    assert not page.locator("#compare-side").is_visible()
    page.check("input[name=compare-mode][value=side]")
    assert page.locator("#compare-side").is_visible()
    assert not page.locator("#compare-slider").is_visible()
    page.check("input[name=compare-mode][value=slider]")


def test_keyboard_order_and_visible_focus(page: Any) -> None:
    page.on("filechooser", lambda _chooser: None)
    page.focus("a.skip")  # the first stop: Tab from it walks the page in order
    seen = []
    for _ in range(13):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate(
                """() => {
                    const el = document.activeElement;
                    const style = getComputedStyle(el);
                    return [el.id || el.className || el.textContent.trim(),
                            style.outlineStyle, style.outlineWidth];
                }"""
            )
        )
    order = [name for name, _, _ in seen]
    assert order[:9] == [
        "HTTP API docs",
        "key-input",
        "Use key",
        "key-forget",
        "drop-zone",
        "quality",
        "download-all",
        "clear-all",
        "download button",
    ], order
    for name, outline, width in seen:
        assert (outline, width) == ("solid", "3px"), name
    # Space on the drop zone opens the same file picker as Enter.
    page.focus("#drop-zone")
    with page.expect_file_chooser() as chooser:
        page.keyboard.press(" ")
    assert chooser.value.is_multiple()
    # Status updates are announced: the totals, each file's status, the page announcer.
    assert page.get_attribute("#totals", "aria-live") == "polite"
    assert page.get_attribute("#announcer", "aria-live") == "polite"
    assert page.locator(".file .file-status[role=status]").count() == 2


def test_the_quality_slider_by_keyboard_compresses_again(page: Any, server: ServerProcess) -> None:
    before = {row["name"]: row["output"] for row in rows(page)}
    slider = page.locator("#quality")
    slider.focus()
    for _ in range(30):
        slider.press("ArrowLeft")
    assert page.inner_text("#quality-value") == "50"
    wait_until_done(page, 2, quality=50)
    shown = rows(page)
    with api(server) as http:
        for row in shown:
            # PNG's palette at q 50 may equal q 80's; JPEG's bytes always drop.
            if row["name"].endswith(".jpg"):
                assert row["output"] < before[row["name"]], row
            assert row["output"] <= before[row["name"]], row
            action = http.get(f"/v1/actions/{row['actionId']}").json()
            assert action["request_data"]["quality"] == 50, action
            assert action["response_data"]["output_size"] == row["output"]


def test_a_phone_sized_window_needs_no_sideways_scrolling(
    browser: Any, server: ServerProcess, images: list[Image], tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    tab = context.new_page()
    try:
        tab.goto(f"http://{server.http_address}/")
        tab.fill("#key-input", server.api_key)
        tab.click("#key-form button[type=submit]")
        drop(tab, images)
        wait_until_done(tab, len(images))
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        for selector in ("#drop-zone", "#quality", "#download-all", ".file .download"):
            box = tab.locator(selector).first.bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 390, selector
        # The 768 px wide PNG at 1:1: its compare box scrolls to put the divider in view.
        tab.locator(".file").nth(1).locator(".show-compare").click()
        tab.wait_for_function("document.getElementById('compare-slider').scrollLeft > 0")
        divider = tab.locator("#compare-divider").bounding_box()
        assert divider is not None
        assert 0 < divider["x"] < 390
        shot = tab.screenshot(path=str(tmp_path / "phone.png"), full_page=True)
        assert shot.startswith(b"\x89PNG")
    finally:
        context.close()


def test_a_wrong_key_says_so_and_the_right_one_resends(
    browser: Any, server: ServerProcess, images: list[Image]
) -> None:
    context = browser.new_context()
    tab = context.new_page()
    try:
        # Listening now turns the chooser's interception on before the key press below (it is
        # switched on asynchronously when the first listener comes).
        tab.on("filechooser", lambda _chooser: None)
        tab.goto(f"http://{server.http_address}/")
        tab.fill("#key-input", "pxk_not-a-real-key")
        tab.press("#key-input", "Enter")
        # The drop zone works from the keyboard: Enter opens the real file picker.
        tab.focus("#drop-zone")
        with tab.expect_file_chooser() as chooser:
            tab.keyboard.press("Enter")
        assert chooser.value.is_multiple()
        chooser.value.set_files([str(image.path) for image in images])
        status = tab.locator("#key-status")
        status.wait_for(state="visible")
        tab.wait_for_function(
            "document.getElementById('key-status').textContent.startsWith('Wrong API key')",
            timeout=WAIT_MS,
        )
        assert "refused" in status.inner_text()
        assert tab.evaluate("document.activeElement.id") == "key-input"
        assert tab.evaluate("sessionStorage.getItem('pixpress-api-key')") is None
        # Both files were sent at once: the second refusal keeps the plain message.
        tab.wait_for_function(
            """() => [...document.querySelectorAll(".file")].every(
                (row) => row.dataset.status === "needs-key")""",
            timeout=WAIT_MS,
        )
        assert status.inner_text().startswith("Wrong API key")
        tab.fill("#key-input", server.api_key)
        tab.press("#key-input", "Enter")
        wait_until_done(tab, 2)
        assert tab.evaluate("sessionStorage.getItem('pixpress-api-key')") == server.api_key
        tab.reload()
        assert tab.input_value("#key-input") == server.api_key
        assert "kept for this tab" in tab.inner_text("#key-status")
    finally:
        context.close()


def test_a_server_without_keys_needs_none(
    browser: Any, images: list[Image], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("web-no-auth")
    process = start_server(data_dir, ["--insecure-no-auth", "--workers", "1"])
    context = browser.new_context(accept_downloads=True)
    try:
        tab = context.new_page()
        tab.goto(f"http://{process.http_address}/")
        # The first request never reaches the server: the row says so and Retry sends it again.
        tab.route("**/v1/compress*", lambda route: route.abort("connectionrefused"))
        tab.set_input_files("#file-input", str(images[0].path))
        failed = tab.locator(".file[data-status=failed] .file-status")
        failed.wait_for(timeout=WAIT_MS)
        assert failed.inner_text().startswith("Could not reach the server")
        tab.unroute("**/v1/compress*")
        tab.click(".file .retry")
        wait_until_done(tab, 1)
        assert tab.locator(".file .retry").is_hidden()
        assert rows(tab)[0]["output"] < images[0].path.stat().st_size
        # The same file picked again is a second row; the zip keeps both under distinct names.
        tab.set_input_files("#file-input", str(images[0].path))
        wait_until_done(tab, 2)
        # A file that is no image: its row shows the problem's detail as the API gives it.
        text = tmp_path_factory.mktemp("web-text") / "notes.txt"
        text.write_bytes(b"these are notes, not an image\n" * 40)
        with httpx.Client(base_url=f"http://{process.http_address}", timeout=60) as http:
            problem = http.post("/v1/compress", params={"quality": 80}, content=text.read_bytes())
        assert problem.status_code == 400
        tab.set_input_files("#file-input", str(text))
        failed = tab.locator(".file[data-status=failed] .file-status")
        failed.wait_for(timeout=WAIT_MS)
        assert failed.inner_text() == f"{problem.json()['detail']} (INVALID_ARGUMENT)"
        assert tab.locator(".file[data-status=failed] a.download").is_hidden()
        with tab.expect_download() as info:
            tab.click("#download-all")
        with zipfile.ZipFile(info.value.path()) as archive:
            assert archive.testzip() is None
            assert archive.namelist() == ["Landscape_1.jpg", "Landscape_1 (2).jpg"]
    finally:
        context.close()
        process.stop()


def test_a_rate_limited_file_is_sent_again_after_retry_after(
    browser: Any, images: list[Image], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data_dir = tmp_path_factory.mktemp("web-rate-limit")
    limits = ["--rate-limit", "0.5", "--rate-burst", "1"]
    process = start_server(data_dir, ["--workers", "1", *limits])
    key = create_key(data_dir, "bob")  # the limit is per API key
    context = browser.new_context()
    try:
        tab = context.new_page()
        tab.goto(f"http://{process.http_address}/")
        tab.fill("#key-input", key)
        tab.press("#key-input", "Enter")
        # Two at once against a burst of one: the second is refused (429) until a token comes.
        tab.set_input_files("#file-input", [str(image.path) for image in images])
        tab.locator(".file[data-status=retrying]").wait_for(timeout=WAIT_MS)
        assert "sending again in" in tab.inner_text(".file[data-status=retrying] .file-status")
        wait_until_done(tab, 2)
        resent = tab.eval_on_selector_all(
            ".file", "(rows) => rows.map((row) => Number(row.dataset.resent))"
        )
        assert sum(resent) >= 1, resent
    finally:
        context.close()
        process.stop()
