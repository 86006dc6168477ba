"""End to end: a who-claims answer in the browser shows the timeline of its claims (a Gradio ScatterPlot
drawn as SVG, one mark per dated claim), and an ordinary answer hides it. Real embedder, the seeds plus
one dated article, Debian's Chromium driven by Playwright (skipped when either is missing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import rag
from rag.testing.documents import DATED_POKROVSK_WIRE
from rag.testing.stub_http import free_port

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
SEEDS = Path(__file__).parents[2] / "seeds"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    ui = pytest.importorskip("rag.app.ui", reason="the UI needs gradio: pip install gradio")
    (tmp_path / "dated").mkdir()
    (tmp_path / "dated" / "pokrovsk_wire.txt").write_text(DATED_POKROVSK_WIRE, encoding="utf-8")
    index = rag.Index(rag.Settings(index=tmp_path / "index", llm={"backend": "extractive"}))
    report = index.ingest(SEEDS, tmp_path / "dated")
    assert not report.failed, report.summary()
    port = free_port()
    demo = ui.start(index, host="127.0.0.1", port=port)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


def test_who_claims_answer_draws_its_timeline(app_url: str) -> None:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    expect = sync_api.expect
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(app_url)
            expect(page.locator("#backend input")).to_have_value("extractive", timeout=30_000)
            page.locator("#question textarea").fill("who claims Pokrovsk has fallen?")
            page.locator("#send").click()
            expect(page.locator("#chat")).to_contain_text("Gerasimov", timeout=60_000)
            timeline = page.locator("#timeline")
            expect(timeline).to_be_visible(timeout=30_000)
            # One SVG path per mark (legend symbols are role-legend-symbol): the two dated claims.
            expect(timeline.locator("svg g.mark-symbol.role-mark path")).to_have_count(2, timeout=30_000)
            expect(timeline).to_contain_text("Valery Gerasimov")
            expect(page.locator("#timeline_note")).to_contain_text("Undated", timeout=30_000)
            # The README's picture of the chart, taken from the page as it is.
            timeline.scroll_into_view_if_needed()
            timeline.screenshot(path=str(Path(__file__).parents[2] / "docs" / "ui-timeline.png"))

            page.locator("#question textarea").fill("How many residents remain in Toretsk?")
            page.locator("#send").click()
            expect(page.locator("#chat")).to_contain_text("1,600", timeout=60_000)
            expect(timeline).to_be_hidden(timeout=30_000)
        finally:
            browser.close()
