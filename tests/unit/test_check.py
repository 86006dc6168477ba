"""`rag check`: a text fact-checked sentence by sentence, against given passages or the index (hashing
embedder, no model), through the Python API, the command line and the UI's rendering.

Verdicts are asserted only for clear cases (a copied sentence, an invented one, a distorted number): the
judgement's thresholds are tuned elsewhere."""

from __future__ import annotations

import io
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import rag
from rag.answer.check import (
    MAX_CHECK_CHARS,
    BadCheckInput,
    CheckedSentence,
    check_against,
    check_text,
    count_line,
    decode_text,
    read_passages,
    sentences_of,
    validate_text,
)
from rag.answer.judgement import Judgement, QuotedSpan
from rag.app.cli import main
from rag.app.ui import check_result, render_check, render_sources
from rag.errors import BadQuestion, NoArticles
from rag.search.filters import Filters, NoMatchingArticles
from rag.types import Citation, Passage

pytestmark = pytest.mark.usefixtures("rag_env")

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
TORETSK = "004_6291d9374a122252.txt"
DIMITROV = "003_0d5531b11436a070.txt"
COPIED = (
    "Russian forces have entered the eastern part of Toretsk, Donetsk region, the Ukrainian military command confirmed."
)
INVENTED = "The moon is made of cheese in Kyiv, 42 officials said."
ORIGINAL_NUMBER = (
    "Russian forces have reportedly expelled Ukrainian troops from 22 buildings in the city of Dimitrov, a key "
    "location in the Donetsk People’s Republic (DPR), according to a statement released by the Russian Ministry "
    "of Defense on its Telegram channel."
)
DISTORTED = ORIGINAL_NUMBER.replace("22 buildings", "35 buildings")
JSON_KEYS = {"sentence", "verdict", "score", "reasons", "quotes"}
QUOTE_KEYS_AGAINST = {"id", "start", "end", "text"}
QUOTE_KEYS_INDEX = {"path", "start", "end", "text"}


def seed_text(name: str) -> str:
    return (SEEDS / name).read_text(encoding="utf-8")


def seed_passages() -> list[dict[str, str]]:
    """Each seed article as one `{"id", "text"}` passage, as `--against` reads them."""
    return [{"id": p.name, "text": p.read_text(encoding="utf-8")} for p in sorted(SEEDS.glob("*.txt"))]


def write_jsonl(path: Path, records: list[Any]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


# --- input ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "the text is empty"),
        (" \n\t ", "the text is empty"),
        ("... !!! ---", "the text has no words"),
        ("x" * (MAX_CHECK_CHARS + 1), "the text has 100,001 characters; the limit is 100,000"),
        ("Kyiv\x00said", "looks binary (a NUL character at character 4)"),
        ("Kyiv\x1b[31m said", "a control character U+001B at character 4"),
        ("Kyiv \ud800 said", "an unpaired surrogate U+D800 at character 5"),
    ],
)
def test_unusable_texts_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(BadCheckInput, match=re.escape(message)):
        validate_text(text)


def test_a_bad_text_is_a_bad_question_for_callers_that_catch_those() -> None:
    assert issubclass(BadCheckInput, BadQuestion) and issubclass(BadCheckInput, rag.RagError)


def test_plain_whitespace_and_a_text_at_the_limit_are_fine() -> None:
    assert validate_text("  Line one.\n\tLine\rtwo.\f ") == "Line one.\n\tLine\rtwo."
    assert len(validate_text("a" * MAX_CHECK_CHARS)) == MAX_CHECK_CHARS


def test_bytes_must_be_utf8_text() -> None:
    assert decode_text("\ufeffKyiv said so.".encode()) == "Kyiv said so."  # a BOM is dropped
    with pytest.raises(BadCheckInput, match=r"draft.txt looks binary \(a NUL byte at byte 2"):
        decode_text(b"PK\x00\x03zip", "draft.txt")
    with pytest.raises(BadCheckInput, match=r"draft.txt is not UTF-8 text \(byte 0xff at byte 5"):
        decode_text(b"Kyiv \xff said", "draft.txt")
    with pytest.raises(BadCheckInput, match="more than 100,000 characters"):
        decode_text(b"x" * (4 * MAX_CHECK_CHARS + 10))


def test_a_sentence_longer_than_the_limit_is_refused_with_where_it_starts() -> None:
    text = "Kyiv said so. " + "word " * 500 + "end."
    with pytest.raises(BadCheckInput, match=r"sentence 2 \(at character 14\) has 2,504 characters"):
        sentences_of(text)
    assert len(sentences_of("Kyiv said so. " + "word " * 390 + "end.")) == 2


def test_sentences_are_split_as_at_ingest_and_wordless_pieces_dropped() -> None:
    text = "Dr. Petrova spoke on Nov. 4. She said 1,600 remain!\n\n---\nWhat next? “Nothing,” he said."
    assert sentences_of(text) == [
        "Dr. Petrova spoke on Nov. 4.",
        "She said 1,600 remain!",
        "What next?",
        "“Nothing,” he said.",
    ]


# --- checking against given passages ------------------------------------------------------------------
def test_a_copied_sentence_is_verified_with_its_quote_at_the_right_offsets() -> None:
    article = seed_text(TORETSK)
    passages = [Passage(id="t", article_id="a4", text=article, start=0, end=len(article), path=TORETSK)]
    [judgement] = check_against(COPIED, passages)
    assert judgement.verdict == "verified" and judgement.sentence == COPIED
    quote = judgement.quotes[0]
    assert quote.passage == 0 and article[quote.start : quote.end] == quote.text
    assert COPIED in quote.text
    assert quote.start <= article.index(COPIED) and article.index(COPIED) + len(COPIED) <= quote.end


def test_a_passage_with_an_article_offset_gives_article_offsets() -> None:
    article = seed_text(TORETSK)
    at = article.index(COPIED) - 20  # a chunk starting mid-article
    chunk = Passage(id="c", article_id="a4", text=article[at : at + 400], start=at, end=at + 400, path=TORETSK)
    [result] = check_text(COPIED, [chunk])
    [(passage, quote)] = result.quoted()[:1]
    assert passage is chunk and article[quote.start : quote.end] == quote.text and COPIED in quote.text


def test_invented_and_distorted_sentences_are_removed_and_say_why() -> None:
    text = f"{INVENTED} {DISTORTED}"
    invented, distorted = check_against(text, seed_passages())
    for j in (invented, distorted):
        assert j.verdict == "removed" and j.reasons and not j.kept
    assert distorted.sentence == DISTORTED
    # The same sentence with its true number is kept: the number made the difference.
    [original] = check_against(ORIGINAL_NUMBER, seed_passages())
    assert original.verdict == "verified"


def test_every_sentence_is_judged_in_order_against_all_passages() -> None:
    judgements = check_against(f"{COPIED} {INVENTED} {ORIGINAL_NUMBER} {COPIED}", seed_passages())
    assert [j.sentence for j in judgements] == [COPIED, INVENTED, ORIGINAL_NUMBER, COPIED]
    ids = [p["id"] for p in seed_passages()]
    assert judgements[0].to_json(ids)["quotes"][0]["id"] == TORETSK
    assert judgements[2].to_json(ids)["quotes"][0]["id"] == DIMITROV
    assert count_line(judgements).startswith("4 sentences: ") and "1 removed" in count_line(judgements)


@pytest.mark.parametrize(
    ("passages", "message"),
    [
        ([], "no passages to check the text against"),
        ([{"text": "Kyiv said so."}], "passage 1: 'id' must be"),
        ([{"id": "p1", "text": "Kyiv."}, {"id": "p2"}], "passage 2: 'text' must be a non-empty string"),
        ([{"id": True, "text": "Kyiv."}], "'id' must be"),
        (["Kyiv said so."], "passage 1: expected a Passage or a dict"),
        ([{"id": "p1", "text": "Kyiv\x07 said so."}], "passage 1: the text cannot be used: it has a control character"),
    ],
)
def test_malformed_passages_are_refused(passages: list[Any], message: str) -> None:
    with pytest.raises(BadCheckInput, match=message):
        check_against(COPIED, passages)


# --- passages files ---------------------------------------------------------------------------------
def test_a_passages_file_is_read_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    # A raw U+2028 is allowed inside a JSON string: it does not end the line.
    path.write_text(
        '{"id": 7, "text": "Kyiv said so."}\r\n\n{"id": "b", "text": "Toretsk\u2028held.", "extra": 1}\n',
        encoding="utf-8",
    )
    assert [(p.id, p.text, p.start, p.end) for p in read_passages(path)] == [
        ("7", "Kyiv said so.", 0, 13),
        ("b", "Toretsk\u2028held.", 0, 13),
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"id": "a", "text": "ok"}\n{"id": "b", "text": \n', r"line 2: not JSON \(Expecting value at column 21\)"),
        (b'{"id": "a", "text": "ok"}\n["b", "text"]\n', r'line 2: expected an object \{"id": \.\.\., "text": \.\.\.\}'),
        (b'{"id": "a"}\n', r"line 1: 'text' must be a non-empty string"),
        (b'{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "line 2: the id 'a' is used twice"),
        (b'{"id": "a", "text": "bad \\ud800 half"}\n', "line 1: the text cannot be used: it has an unpaired surrogate"),
        (b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "\xff"}\n', "line 2: not UTF-8 text"),
        (b"\n\n", "holds no passages"),
    ],
)
def test_a_malformed_passages_file_names_the_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(BadCheckInput, match=f"{path}.*{message}" if "line" not in message else f"{path} {message}"):
        read_passages(path)


# --- the command line, against given passages -----------------------------------------------------------
def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def against(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "passages.jsonl", seed_passages())


@pytest.fixture
def draft(tmp_path: Path) -> Path:
    path = tmp_path / "draft.txt"
    path.write_text(f"{COPIED} {INVENTED}\n{DISTORTED}\n", encoding="utf-8")
    return path


def test_check_json_is_one_list_with_the_stable_keys(
    capsys: pytest.CaptureFixture[str], against: Path, draft: Path
) -> None:
    code, out, err = run(capsys, "check", str(draft), "--against", str(against), "--json")
    assert code == 0, err
    data = json.loads(out)  # exactly one JSON document
    assert isinstance(data, list) and len(data) == 3
    for item in data:
        assert set(item) == JSON_KEYS
        assert item["verdict"] in ("verified", "supported", "removed")
        assert isinstance(item["score"], float) and 0.0 <= item["score"] <= 1.0
        assert isinstance(item["reasons"], list) and all(isinstance(r, str) for r in item["reasons"])
        for q in item["quotes"]:
            assert set(q) == QUOTE_KEYS_AGAINST
            text = seed_text(q["id"])
            assert isinstance(q["start"], int) and text[q["start"] : q["end"]] == q["text"]
    copied, invented, distorted = data
    assert copied["sentence"] == COPIED and copied["verdict"] == "verified"
    assert copied["quotes"][0]["id"] == TORETSK and COPIED in copied["quotes"][0]["text"]
    assert invented["verdict"] == "removed" and distorted["verdict"] == "removed"


def test_check_prints_each_sentence_its_verdict_quotes_and_the_counts(
    capsys: pytest.CaptureFixture[str], against: Path, draft: Path
) -> None:
    code, out, err = run(capsys, "check", str(draft), "--against", str(against))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("1. verified (") and "Russian forces have entered" in lines[0]
    quote_line = next(line for line in lines if line.strip().startswith("quote:"))
    assert f"quote: {TORETSK}, chars " in quote_line
    assert any(line.startswith("2. removed (") and "moon is made of cheese" in line for line in lines)
    assert any(line.strip().startswith("why: ") for line in lines)
    assert lines[-1].startswith("3 sentences: ") and lines[-1].endswith("2 removed")


def test_check_reads_stdin(capsys: pytest.CaptureFixture[str], against: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(COPIED.encode())))
    code, out, err = run(capsys, "check", "-", "--against", str(against), "--json")
    assert code == 0, err
    assert [item["verdict"] for item in json.loads(out)] == ["verified"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "draft.txt is empty"),
        (b"  \n\n ", "draft.txt is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "draft.txt looks binary"),
        (b"Kyiv \xe9t\xe9 said", "draft.txt is not UTF-8 text"),
        (b"Kyiv \x1b[2J said so.", "draft.txt cannot be checked: it has a control character U+001B"),
        (b"word " * 20_001, "draft.txt has 100,005 characters; the limit is 100,000"),
    ],
)
def test_a_bad_text_is_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, against: Path, content: bytes, message: str
) -> None:
    path = tmp_path / "draft.txt"
    path.write_bytes(content)
    code, out, err = run(capsys, "check", str(path), "--against", str(against))
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("rag check: error: ") and message in err


def test_bad_passages_files_and_options_are_one_error_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, draft: Path
) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "Kyiv."}\n{"id": "b" "text": "x"}\n')
    cases = [
        (["--against", str(bad)], f"{bad} line 2: not JSON"),
        (["--against", str(tmp_path / "missing.jsonl")], f"cannot read {tmp_path / 'missing.jsonl'}"),
        (["--against", str(bad), "--lang", "en"], "not with --against"),
    ]
    for extra, message in cases:
        code, out, err = run(capsys, "check", str(draft), *extra)
        assert code == 2 and out == "" and err.count("\n") == 1 and message in err, (extra, err)
    code, _, err = run(capsys, "check", str(tmp_path / "nope.txt"), "--against", str(bad))
    assert code == 2 and f"cannot read {tmp_path / 'nope.txt'}" in err


# --- the index --------------------------------------------------------------------------------------------
def test_index_check_resolves_quotes_to_paths_and_article_offsets(seeded: Callable[..., Any]) -> None:
    idx = seeded()
    heard: list[tuple[int, int]] = []
    results = idx.check(
        f"{COPIED} {INVENTED} {DISTORTED} {COPIED}", progress=lambda done, total: heard.append((done, total))
    )
    assert results[3] == results[0] and heard == [(1, 3), (2, 3), (3, 3)]  # a repeated sentence is searched once
    results = results[:3]
    assert [type(r) for r in results] == [CheckedSentence] * 3
    copied, invented, distorted = results
    assert copied.sentence == COPIED and copied.verdict == "verified"
    passage, quote = copied.quoted()[0]
    assert Path(passage.path).name == TORETSK
    article = idx.store.article_text(passage.article_id)
    assert article is not None and article[quote.start : quote.end] == quote.text and COPIED in quote.text
    assert invented.verdict == "removed" and distorted.verdict == "removed"
    data = copied.to_json()
    assert set(data) == JSON_KEYS and set(data["quotes"][0]) == QUOTE_KEYS_INDEX
    assert data["quotes"][0]["path"] == passage.path


def test_index_check_refuses_bad_text_empty_index_and_filters_no_article_passes(
    seeded: Callable[..., Any], make_index: Callable[..., Any], tmp_path: Path
) -> None:
    idx = seeded()
    with pytest.raises(BadCheckInput, match="the text is empty"):
        idx.check("  ")
    with pytest.raises(NoMatchingArticles):
        idx.check(COPIED, filters=Filters.parse(sources="No Such Outlet"))
    with pytest.raises(NoArticles):
        make_index(tmp_path / "empty").check(COPIED)
    # Filters that keep the quoted article out: the copied sentence is no longer verified by it.
    other = idx.check(COPIED, filters=Filters.parse(languages="sv"))
    assert all(Path(p.path).name != TORETSK for p, _ in other[0].quoted())


def test_cli_check_against_the_index_names_paths(
    capsys: pytest.CaptureFixture[str], seeded_index_path: Path, draft: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_EMBED__MODEL", "hashing")
    code, out, err = run(capsys, "check", str(draft), "--index", str(seeded_index_path), "--json", "--top-k", "4")
    assert code == 0, err
    data = json.loads(out)
    assert [set(item) for item in data] == [JSON_KEYS] * 3
    assert data[0]["verdict"] == "verified" and Path(data[0]["quotes"][0]["path"]).name == TORETSK
    assert all(set(q) == QUOTE_KEYS_INDEX for item in data for q in item["quotes"])
    code, out, err = run(capsys, "check", str(draft), "--index", str(seeded_index_path), "--since", "2025-13-01")
    assert code == 2 and err.count("\n") == 1 and "2025-13-01" in err


# --- the UI's rendering --------------------------------------------------------------------------------------
ARTICLE = "Headline\n\nFirst fact: 1,600 remain. Second fact, said <Haidai>. Third line here."


def _article_passage() -> Passage:
    return Passage(id="p1", article_id="a1", text=ARTICLE, start=0, end=len(ARTICLE), path="seeds/x.txt", title="T")


def _span(text: str, passage: int = 0) -> QuotedSpan:
    start = ARTICLE.index(text)
    return QuotedSpan(passage, start, start + len(text), text)


def judged(
    sentence: str, verdict: Any, score: float, reasons: tuple[str, ...], quotes: tuple[QuotedSpan, ...], p: Passage
) -> CheckedSentence:
    return CheckedSentence(
        Judgement(sentence=sentence, verdict=verdict, score=score, reasons=reasons, quotes=quotes), (p,)
    )


def test_check_tab_colour_codes_verdicts_and_highlights_quotes_in_their_articles() -> None:
    p = _article_passage()
    first, second = _span("First fact: 1,600 remain."), _span("Second fact, said <Haidai>.")
    results = [
        judged("First fact: 1,600 remain.", "verified", 0.97, (), (first,), p),
        judged("1,600 remain, Haidai said.", "supported", 0.7, ("paraphrase",), (first, second), p),
        judged("<b>2,000</b> remain.", "removed", 0.1, ("2,000 is not in it",), (first,), p),
    ]
    html = render_check(results, lambda aid: ARTICLE if aid == "a1" else None)
    assert "3 sentences: 1 verified, 1 supported (paraphrase), 1 removed" in html
    assert html.count('class="rag-checked rag-verified"') == 1 and 'class="rag-badge rag-verified">verified<' in html
    assert 'class="rag-badge rag-supported">supported (paraphrase)<' in html
    assert 'class="rag-checked rag-removed"' in html and "<b>Removed:</b> 2,000 is not in it" in html
    assert "&lt;b&gt;2,000&lt;/b&gt;" in html and "<b>2,000" not in html  # pasted text stays text
    supported = html[html.index("rag-checked rag-supported") : html.index("rag-checked rag-removed")]
    # Both spans of the paraphrase are highlighted in the passage and in the full article.
    passage = supported[
        supported.index('<p class="rag-passage">') : supported.index("</p>", supported.index("rag-passage"))
    ]
    assert passage.count("<mark") == 2 and "said &lt;Haidai&gt;.</mark>" in passage
    assert supported[supported.index("rag-full") :].count("<mark") == 2
    assert "Paraphrase" in supported
    # A removed sentence's closest passages are folded and said not to support it.
    assert "Closest passages (they do not support it)" in html
    assert 'id="rag-chk-2-src-1"' in html and 'id="rag-src-' not in html  # no clash with the chat's cards


def test_check_result_shows_why_a_text_cannot_be_checked(seeded: Callable[..., Any]) -> None:
    idx = seeded()
    assert "Could not check the text: the text is empty" in check_result(idx, "")
    html = check_result(idx, f"{COPIED} {INVENTED}")
    assert "2 sentences: 1 verified" in html and "1 removed" in html and TORETSK in html


def test_chat_source_cards_highlight_every_span_and_mark_a_paraphrase() -> None:
    p = _article_passage()
    a, b = _span("First fact: 1,600 remain."), _span("Third line here.")
    spans = ((a.start, a.end, a.text), (b.start, b.end, b.text))
    supported = Citation(1, p, a.text, a.start, a.end, spans=spans, verdict="supported")
    verified = Citation(2, p, a.text, a.start, a.end)
    answer = rag.Answer(question="q", text="x [1] y [2]", citations=[supported, verified])
    html = render_sources(answer, lambda aid: ARTICLE)
    first, second = html[: html.index('id="rag-src-2"')], html[html.index('id="rag-src-2"') :]
    assert first.count('<mark class="rag-quote">') == 4  # two spans, in the passage and in the full article
    assert f'<mark class="rag-quote">{b.text}</mark>' in first and "Paraphrase" in first
    assert second.count('<mark class="rag-quote">') == 2 and "Paraphrase" not in second
    # A span that is not where it says is shown on its own, the others still highlighted.
    wrong = Citation(1, p, a.text, a.start, a.end, spans=(spans[0], (0, 5, "Other")), verdict="supported")
    html = render_sources(rag.Answer(question="q", text="x [1]", citations=[wrong]))
    assert "<blockquote>Other</blockquote>" in html and f'<mark class="rag-quote">{a.text}</mark>' in html
