"""The chat window in a real browser (Playwright driving Debian's Chromium) over the real embedder and
store: streaming, a marker opening its source card, the full article, the who-said-what table, uploads,
follow-ups, export, two sessions at once, and the "Check a text" tab. Saves the screenshots in docs/."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from llama_index.core.base.llms.types import CompletionResponse, CompletionResponseGen

import rag
from rag.testing import ScriptedLLM
from rag.testing.stub_http import free_port

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).parents[2]
SEEDS = ROOT / "seeds"
DOCS = ROOT / "docs"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]  # fmt: skip
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
POKROVSK = "who claims Pokrovsk has fallen?"
LOST = "Did Ukrainian troops lose control of Pokrovsk?"
# The model's streamed reply: two sentences the checker keeps, sent a word at a time with a pause, so
# the browser can be seen showing the first before the second exists.
REPLY = (
    "Igor Mosiychuk claimed on November 4 that Ukrainian troops had already lost control of Pokrovsk [{n}]. "
    "Mosiychuk accused the Ukrainian leadership of misleading citizens about the situation [{n}]."
)
TIMINGS = ROOT / ".cache" / "ui-timings.json"


class SlowLLM(ScriptedLLM):
    """Streams its reply word by word with a pause, like a model on a CPU."""

    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponseGen:
        text = self._reply(prompt)
        so_far = ""
        for word in text.split(" "):
            time.sleep(0.12)
            so_far += word + " "
            yield CompletionResponse(text=so_far, delta=word + " ")


def _reply(prompt: str) -> str:
    blocks = prompt.split('<passage n="')[1:]
    n = next((i for i, b in enumerate(blocks, start=1) if "Mosiychuk, who claimed" in b), 1)
    return REPLY.format(n=n)


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, rag.Index]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    ui = pytest.importorskip("rag.app.ui", reason="the UI needs gradio")
    folder = tmp_path_factory.mktemp("ui")
    index = rag.Index(
        rag.Settings(index=folder / "index", llm={"backend": "extractive"}),
        language_model=SlowLLM(_reply, model_name="slow-test"),
    )
    assert not index.ingest(SEEDS).failed
    port = free_port()
    demo = ui.start(index, host="127.0.0.1", port=port)
    try:
        yield f"http://127.0.0.1:{port}/", index
    finally:
        demo.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Page:
    """A browser tab on the app that refuses (and records) any request leaving the machine."""

    def __init__(self, browser: Any, url: str) -> None:
        from playwright.sync_api import expect

        self.expect = expect
        self.outside: list[str] = []
        self.context = browser.new_context(viewport={"width": 1360, "height": 940}, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.route("**/*", self._keep_local)
        self.page.goto(url)
        expect(self.page.locator("#status")).to_contain_text("passages", timeout=30_000)

    def _keep_local(self, route: Any, request: Any) -> None:
        if urlparse(request.url).hostname in LOCAL_HOSTS or request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            self.outside.append(request.url)
            route.abort()

    def ask(self, question: str, backend: str | None = None) -> float:
        if backend:
            self.page.locator("#backend input").fill(backend)
            self.page.get_by_role("option", name=backend, exact=True).click()
        self.page.locator("#question textarea").fill(question)
        t0 = time.perf_counter()
        self.page.locator("#send").click()
        return t0

    def last_answer(self) -> Any:
        return self.page.locator("#chat .message-row.bot-row, #chat [data-testid='bot']").last

    def close(self) -> None:
        self.context.close()
        assert not self.outside, f"the page tried to reach the internet: {self.outside}"


def test_answer_streams_and_a_marker_opens_its_highlighted_source(app: tuple[str, rag.Index], browser: Any) -> None:
    url, _ = app
    tab = Page(browser, url)
    page, expect = tab.page, tab.expect
    chat = page.locator("#chat")
    t0 = tab.ask(LOST, backend="auto")  # the injected slow model answers
    # The first verified sentence is on screen while the second has not been written yet.
    expect(chat).to_contain_text("lost control of Pokrovsk", timeout=60_000)
    first = time.perf_counter() - t0
    assert "misleading citizens" not in chat.inner_text()
    expect(chat).to_contain_text("answered by custom:slow-test", timeout=60_000)
    full = time.perf_counter() - t0
    assert "misleading citizens" in chat.inner_text()

    # Click the [1] marker in the answer: its source card scrolls into view and is outlined; the quote is
    # highlighted inside its passage; the full article opens with the quote in view.
    chat.locator("a.rag-marker").first.click()
    card = page.locator("#rag-src-1")
    expect(card).to_have_class("rag-card rag-flash", timeout=5_000)
    expect(card.locator("p.rag-passage mark.rag-quote")).to_contain_text("lost control of Pokrovsk")
    card.locator("details.rag-full summary").click()
    expect(card.locator(".rag-article mark")).to_be_in_viewport(timeout=5_000)
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "ui-source-card.png"), full_page=False)
    _record("browser, injected model streaming 0.12 s/word", first, full)
    tab.close()


def test_who_claims_shows_a_who_said_what_table_and_follow_up_is_rewritten(
    app: tuple[str, rag.Index], browser: Any
) -> None:
    url, _ = app
    tab = Page(browser, url)
    page, expect = tab.page, tab.expect
    chat = page.locator("#chat")
    t0 = tab.ask(POKROVSK)
    expect(chat.locator("table").first).to_contain_text("Igor Mosiychuk", timeout=60_000)
    full = time.perf_counter() - t0
    claimed, other = chat.locator("table").nth(0), chat.locator("table").nth(1)
    expect(claimed).to_contain_text("a former member of the Verkhovna Rada")
    expect(other).to_contain_text("Oleksiy Hetman")
    expect(chat).to_contain_text("The other side")
    page.wait_for_timeout(800)  # the chatbot scrolls itself to the bottom once the answer is complete
    chat.get_by_text("Claimed by").last.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(DOCS / "ui.png"), full_page=False)
    _record("browser, extractive who-claims answer", full, full)

    tab.ask("who denied it?")
    expect(chat).to_contain_text("Who denied Pokrovsk has fallen", timeout=60_000)
    query = chat.locator("details.rag-query").last
    query.locator("summary").click()
    expect(query).to_contain_text("who claims Pokrovsk has fallen? who denied it?")

    # A marker of the earlier answer shows that answer's sources, not the latest one's.
    expect(page.locator("#sources .rag-for")).to_contain_text("who denied it?")
    chat.locator("a.rag-marker").first.click()
    expect(page.locator("#sources .rag-for")).to_contain_text("who claims Pokrovsk has fallen?", timeout=10_000)
    expect(page.locator("#rag-src-1")).to_have_class("rag-card rag-flash", timeout=5_000)

    with page.expect_download() as download:
        page.locator("#export").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert "## who claims Pokrovsk has fallen?" in text and "## who denied it?" in text
    assert "000_b89d6b79fc443941.txt" in text and "> " in text  # sources with their quotes
    tab.close()


def test_upload_a_file_and_ask_about_it(app: tuple[str, rag.Index], browser: Any, tmp_path: Path) -> None:
    url, index = app
    tab = Page(browser, url)
    page, expect = tab.page, tab.expect
    page.get_by_role("tab", name="Library").click()
    expect(page.locator("#articles")).to_contain_text("000_b89d6b79fc443941.txt", timeout=30_000)
    note = tmp_path / "kupiansk-bridge.txt"
    note.write_text(
        "Bridge near Kupiansk destroyed\n\nThe last road bridge over the Oskil river near Kupiansk was destroyed "
        "on Sunday, the regional governor Oleh Syniehubov said. About 40 trucks of aid now wait in Shevchenkove.\n",
        encoding="utf-8",
    )
    (tmp_path / "evil.exe").write_bytes(b"MZ")
    page.locator("#upload_files input[type=file]").set_input_files([str(note), str(tmp_path / "evil.exe")])
    expect(page.locator("#ingest_report")).to_contain_text("1 new", timeout=120_000)
    # The .exe is refused by the upload field itself (its file types); save_uploads would refuse it too.
    expect(page.locator("#articles")).to_contain_text("kupiansk-bridge.txt", timeout=30_000)
    expect(page.locator("#library_stats")).to_contain_text("6 articles")
    stored = (Path(index.settings.index) / "library" / "kupiansk-bridge.txt").resolve()
    assert stored.exists() and not (Path(index.settings.index) / "library" / "evil.exe").exists()
    page.screenshot(path=str(DOCS / "ui-library.png"), full_page=False)

    page.get_by_role("tab", name="Chat").click()
    tab.ask("How many trucks of aid wait in Shevchenkove?")
    expect(page.locator("#chat")).to_contain_text("About 40 trucks", timeout=60_000)
    expect(page.locator("#sources")).to_contain_text("kupiansk-bridge.txt")

    # Remove it again (by its file); the uploaded copy leaves the library folder too.
    page.get_by_role("tab", name="Library").click()
    page.locator("#remove_target textarea, #remove_target input").first.fill(str(stored))
    page.locator("#remove").click()
    expect(page.locator("#ingest_report")).to_contain_text("1 removed", timeout=60_000)
    assert not stored.exists()
    tab.close()


def test_two_sessions_keep_their_own_histories(app: tuple[str, rag.Index], browser: Any) -> None:
    url, _ = app
    one, two = Page(browser, url), Page(browser, url)
    one.ask("How many residents remain in Toretsk?")
    two.ask("Who is Serhiy Haidai?")  # sent while the first is being answered: queued, not mixed
    one.expect(one.page.locator("#chat")).to_contain_text("1,600", timeout=60_000)
    two.expect(two.page.locator("#chat")).to_contain_text("Luhansk", timeout=60_000)
    one.ask("and Myrnohrad?")
    one.expect(one.page.locator("#chat details.rag-query").last).to_contain_text(
        "How many residents remain in Toretsk? and Myrnohrad?", timeout=60_000
    )
    assert "Haidai" not in one.page.locator("#chat").inner_text()
    assert "Toretsk" not in two.page.locator("#chat").inner_text()
    one.close()
    two.close()


CHECKED = (
    "Russian forces have entered the eastern part of Toretsk, Donetsk region, the Ukrainian military command confirmed."
)
INVENTED = "The moon is made of cheese in Kyiv, 42 officials said."


def test_check_a_text_tab_shows_verdicts_and_quotes_highlighted_in_their_articles(
    app: tuple[str, rag.Index], browser: Any
) -> None:
    url, _ = app
    tab = Page(browser, url)
    page, expect = tab.page, tab.expect
    page.get_by_role("tab", name="Check a text").click()
    page.locator("#check_text textarea").fill(f"{CHECKED} {INVENTED}")
    page.locator("#check_run").click()
    result = page.locator("#check_result")
    expect(result).to_contain_text("2 sentences", timeout=60_000)
    # The copied sentence: verified (a green badge), its quote highlighted in the seed article's passage
    # and, once "Open the full article" is clicked, inside the whole article scrolled into view.
    verified = result.locator("li.rag-checked.rag-verified")
    expect(verified.locator(".rag-badge")).to_have_text("verified")
    expect(verified.locator("p.rag-passage mark.rag-quote").first).to_contain_text(
        "entered the eastern part of Toretsk"
    )
    expect(verified).to_contain_text("004_6291d9374a122252.txt")
    verified.locator("details.rag-full summary").first.click()
    expect(verified.locator(".rag-article mark").first).to_be_in_viewport(timeout=5_000)
    # The invented one: removed (red), with the reasons, never shown as fact.
    removed = result.locator("li.rag-checked.rag-removed")
    expect(removed.locator(".rag-sentence")).to_have_text(INVENTED)
    expect(removed.locator(".rag-why")).to_contain_text("Removed:")
    color = removed.locator(".rag-badge").evaluate("e => getComputedStyle(e).backgroundColor")
    assert color != verified.locator(".rag-badge").evaluate("e => getComputedStyle(e).backgroundColor")
    page.screenshot(path=str(DOCS / "ui-check.png"), full_page=False)
    # An empty text: one clear line, and the tab keeps working.
    page.locator("#check_text textarea").fill("   ")
    page.locator("#check_run").click()
    expect(result).to_contain_text("Could not check the text: the text is empty", timeout=30_000)
    tab.close()


def _record(what: str, first: float, full: float) -> None:
    TIMINGS.parent.mkdir(exist_ok=True)
    data = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    data[what] = {"first_text_s": round(first, 2), "full_answer_s": round(full, 2)}
    TIMINGS.write_text(json.dumps(data, indent=1))
