"""Each file format to plain text and metadata, and each way a file of that format can be unusable."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import docx
import pytest
from pypdf import PdfReader, PdfWriter

from rag.config import JsonFields
from rag.ingest.formats import (
    RawDocument,
    parse_docx,
    parse_html,
    parse_json,
    parse_jsonl,
    parse_pdf,
    parse_text,
    reflow_pdf_text,
)
from rag.ingest.metadata import parse_date
from rag.testing.documents import make_pdf
from rag.types import FileProblem

SHARED = Path(__file__).resolve().parents[3] / "shared"


def document(parsed: RawDocument | FileProblem) -> RawDocument:
    assert isinstance(parsed, RawDocument), parsed
    return parsed


def problem(parsed: RawDocument | FileProblem, path: Path) -> str:
    """The reason of a problem that names `path` on one line."""
    assert isinstance(parsed, FileProblem), parsed
    assert parsed.path == str(path) and "\n" not in str(parsed)
    return parsed.reason


# --- text ------------------------------------------------------------------------------------------------


def test_text_is_utf8_without_bom(tmp_path: Path) -> None:
    raw = "\ufeffKyiv restores power.\nSecond paragraph.".encode()
    doc = document(parse_text(tmp_path / "a.md", raw))
    assert (doc.kind, doc.text, doc.raw, doc.key, doc.meta) == (
        "text",
        "Kyiv restores power.\nSecond paragraph.",
        raw,
        "",
        {},
    )


# --- HTML ------------------------------------------------------------------------------------------------

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Ukraine grain deal talks resume - The Daily Example</title>
<meta name="author" content="Jane Doe">
<meta property="og:site_name" content="The Daily Example">
<link rel="canonical" href="https://www.dailyexample.com/world/grain-deal">
<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2024-03-12T08:00:00Z"}</script>
<script>var tracking = "SCRIPT_SECRET";</script>
</head><body>
<div id="cookie-banner">We use cookies. COOKIE_SECRET</div>
<header><nav><ul><li><a href="/world">World</a></li><li><a href="/politics">NAV_SECRET</a></li></ul></nav></header>
<main><article>
<h1>Ukraine grain deal talks resume</h1>
<div class="share"><a href="#">Share on Facebook</a> <a href="#">SHARE_SECRET</a></div>
<p>Negotiators from Ukraine, Turkey and the United Nations met in Istanbul on Tuesday to restart talks on
grain shipments across the Black Sea, officials said.</p>
<p>The previous agreement, which let more than 30 million tonnes of grain leave Ukrainian ports, collapsed
last July when Russia withdrew.</p>
</article>
<section class="related"><h2>Related stories</h2>
<ul><li><a href="/a">RELATED_SECRET wheat prices</a></li></ul></section>
<aside>Most read: ASIDE_SECRET</aside>
</main>
<footer><p>Copyright 2025 The Daily Example. FOOTER_SECRET</p></footer>
</body></html>"""


def test_html_main_text_one_paragraph_per_line_and_metadata(tmp_path: Path) -> None:
    doc = document(parse_html(tmp_path / "grain.html", PAGE.encode()))
    assert doc.kind == "html" and doc.raw == PAGE.encode()
    for hidden in ("SCRIPT", "COOKIE", "NAV", "SHARE", "RELATED", "ASIDE", "FOOTER"):
        assert f"{hidden}_SECRET" not in doc.text
    assert doc.text == (
        "Ukraine grain deal talks resume\n"
        "Negotiators from Ukraine, Turkey and the United Nations met in Istanbul on Tuesday to restart talks on "
        "grain shipments across the Black Sea, officials said.\n"
        "The previous agreement, which let more than 30 million tonnes of grain leave Ukrainian ports, collapsed "
        "last July when Russia withdrew."
    )
    assert doc.meta == {
        "title": "Ukraine grain deal talks resume",
        "source": "The Daily Example",
        "url": "https://www.dailyexample.com/world/grain-deal",
        "published": "2024-03-12",
        "author": "Jane Doe",
    }


def test_html_og_meta_and_no_date_guessed_from_copyright_line(tmp_path: Path) -> None:
    page = PAGE.replace('"datePublished": "2024-03-12T08:00:00Z"', "").replace(
        '<meta name="author" content="Jane Doe">',
        '<meta property="og:url" content="https://example.com/og"><meta property="og:title" content="OG title">',
    )
    doc = document(parse_html(tmp_path / "grain.html", page.encode()))
    assert doc.meta["url"] == "https://example.com/og"
    assert doc.meta["title"] == "OG title"
    assert "published" not in doc.meta and "author" not in doc.meta


def test_html_without_site_name_uses_host_without_www(tmp_path: Path) -> None:
    html = (
        "<html><head><title>Kyiv  restores power</title>"
        '<link rel="canonical" href="https://www.kyivnews.example/power"></head>'
        "<body><p>Power was restored to most of Kyiv on Monday, the city said.</p></body></html>"
    )
    doc = document(parse_html(tmp_path / "power.html", html.encode()))
    assert doc.text == "Power was restored to most of Kyiv on Monday, the city said."
    assert doc.meta == {
        "title": "Kyiv restores power",
        "source": "kyivnews.example",
        "url": "https://www.kyivnews.example/power",
    }


@pytest.mark.parametrize("html", ["<p>Kyiv metro reopens.</p>", "<html><body><div>Metro reopens.</div></body></html>"])
def test_short_article_or_bare_fragment_still_comes_through(tmp_path: Path, html: str) -> None:
    doc = document(parse_html(tmp_path / "short.htm", html.encode()))
    assert doc.text in ("Kyiv metro reopens.", "Metro reopens.")


def test_html_in_declared_charset_or_guessed_encoding(tmp_path: Path) -> None:
    body = "<p>Café in Malmö reopened on Monday – “finally”, the owner said after the long winter.</p>"
    declared = f'<html><head><meta charset="iso-8859-1"></head><body>{body}</body></html>'.encode("cp1252")
    guessed = f"<html><head></head><body>{body}</body></html>".encode("cp1252")
    for name, raw in (("declared.html", declared), ("guessed.html", guessed)):
        assert "Café in Malmö reopened on Monday – “finally”" in document(parse_html(tmp_path / name, raw)).text


@pytest.mark.parametrize(
    "html",
    [
        "<html><head><title>Menu</title></head><body><nav><a href='/'>Home</a> <a href='/w'>World</a></nav>"
        "<footer>Copyright</footer></body></html>",
        "<html><body><ul><li><a href='/'>Home</a></li><li><a href='/w'>World news today</a></li></ul></body></html>",
        "<html><head><title>Empty</title><script>var a = 1;</script></head><body></body></html>",
    ],
)
def test_html_with_no_article_text_is_a_problem(tmp_path: Path, html: str) -> None:
    path = tmp_path / "menu.html"
    assert problem(parse_html(path, html.encode()), path) == "HTML has no article text (only navigation or markup)"


def test_binary_html_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "photo.html"
    assert problem(parse_html(path, b"\x89PNG\r\n\x00\x00"), path) == "binary file (contains NUL bytes), not text"


# --- PDF -------------------------------------------------------------------------------------------------


ARTICLE_PAGES = [
    [
        "Pokrovsk under pressure",
        "Fighting continued in the city on Tuesday as officials said the propa-",
        "ganda war went on and the army held its lines near the railway station",
        "for a third week.",
        "A second paragraph starts here and it ends on this line.",
        "The third paragraph runs over the page break and the sentence goes on",
    ],
    ["2", "after the break, where it ends.", "Page two has one more paragraph of its own, a sentence.", "3"],
]
INFO = {"Title": "Pokrovsk report", "Author": "Jane Doe", "CreationDate": "D:20250105120000Z"}


def test_handmade_pdf_has_a_text_layer_pypdf_reads() -> None:
    reader = PdfReader(io.BytesIO(make_pdf(ARTICLE_PAGES)))
    assert "propa-\nganda" in reader.pages[0].extract_text()


def test_pdf_is_reflowed_into_paragraphs_with_info_metadata(tmp_path: Path) -> None:
    raw = make_pdf(ARTICLE_PAGES, INFO)
    doc = document(parse_pdf(tmp_path / "report.pdf", raw))
    assert (doc.kind, doc.raw) == ("pdf", raw)
    assert doc.text == (
        "Pokrovsk under pressure\n"
        "Fighting continued in the city on Tuesday as officials said the propaganda war went on and the army "
        "held its lines near the railway station for a third week.\n"
        "A second paragraph starts here and it ends on this line.\n"
        "The third paragraph runs over the page break and the sentence goes on after the break, where it ends.\n"
        "Page two has one more paragraph of its own, a sentence."
    )
    assert doc.meta == {"title": "Pokrovsk report", "author": "Jane Doe", "published": "2025-01-05"}


def test_pdf_title_that_is_a_file_name_is_ignored(tmp_path: Path) -> None:
    raw = make_pdf(ARTICLE_PAGES, {"Title": "Microsoft Word - draft3.docx"})
    assert "title" not in document(parse_pdf(tmp_path / "report.pdf", raw)).meta


def test_reflow_keeps_a_page_break_that_ends_a_paragraph_as_a_blank_line() -> None:
    assert reflow_pdf_text(["First page ends here.\n", "Second page.\n"]) == "First page ends here.\n\nSecond page."


def test_pdf_without_text_layer_is_a_problem(tmp_path: Path) -> None:
    writer = PdfWriter()
    writer.add_blank_page(width=612, height=792)
    buffer = io.BytesIO()
    writer.write(buffer)
    path = tmp_path / "scan.pdf"
    assert problem(parse_pdf(path, buffer.getvalue()), path) == "PDF has no text layer (scanned images?); run OCR first"


def _encrypted(user_password: str) -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(make_pdf(ARTICLE_PAGES)))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_pdf_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "locked.pdf"
    assert problem(parse_pdf(path, _encrypted("secret")), path) == "PDF is encrypted"


def test_pdf_encrypted_with_empty_user_password_is_read(tmp_path: Path) -> None:
    assert "propaganda" in document(parse_pdf(tmp_path / "open.pdf", _encrypted(""))).text


@pytest.mark.parametrize("raw", [b"%PDF-1.4\nthis is not really a PDF", b"just text renamed to pdf"])
def test_corrupt_pdf_is_a_problem(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "broken.pdf"
    assert problem(parse_pdf(path, raw), path).startswith("not a readable PDF (")


# --- DOCX ------------------------------------------------------------------------------------------------


def make_docx(paragraphs: Sequence[str], title: str = "", author: str = "") -> bytes:
    d = docx.Document()
    for text in paragraphs:
        d.add_paragraph(text)
    d.core_properties.title = title
    d.core_properties.author = author
    d.core_properties.created = datetime(2024, 3, 12, 9, 30)
    buffer = io.BytesIO()
    d.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_core_properties(tmp_path: Path) -> None:
    raw = make_docx(["Grain talks resume", "", "Negotiators met in   Istanbul.", "  "], "Grain talks", "Jane Doe")
    doc = document(parse_docx(tmp_path / "grain.docx", raw))
    assert (doc.kind, doc.text, doc.raw) == ("docx", "Grain talks resume\nNegotiators met in Istanbul.", raw)
    assert doc.meta == {"title": "Grain talks", "author": "Jane Doe", "published": "2024-03-12"}


def test_docx_without_text_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "blank.docx"
    assert problem(parse_docx(path, make_docx(["", " "])), path) == ".docx has no text"


@pytest.mark.parametrize("raw", [b"PK\x03\x04 broken zip", b"plain text, not a zip"])
def test_corrupt_docx_is_a_problem(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "broken.docx"
    assert problem(parse_docx(path, raw), path).startswith("not a readable .docx (")


# --- JSON Lines and JSON ---------------------------------------------------------------------------------

FIELDS = JsonFields()


def _jsonl(*lines: str) -> bytes:
    return "\n".join(lines).encode()


def key(raw: bytes) -> str:
    """The key of a record without an id: a hash of its bytes, stable when lines move."""
    return "sha-" + hashlib.sha256(raw).hexdigest()[:12]


def test_jsonl_records_with_id_content_key_and_metadata(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    first = '{"id": "p1", "text": "First story.", "date": "March 12, 2024", "source": "CNN", "url": "https://x/1"}'
    second = '{"title": "Second", "body": "Second story.", "author": "Jane Doe", "date": "not a date"}'
    docs = [document(d) for d in parse_jsonl(path, _jsonl(first, "", "   ", second, ""), FIELDS)]
    assert [(d.kind, d.key, d.location, d.text, d.raw) for d in docs] == [
        ("record", "p1", f"{path}#p1", "First story.", first.encode()),
        ("record", key(second.encode()), f"{path}#{key(second.encode())}", "Second story.", second.encode()),
    ]
    assert docs[0].meta == {"source": "CNN", "url": "https://x/1", "published": "2024-03-12"}
    assert docs[1].meta == {"title": "Second", "author": "Jane Doe"}


def test_jsonl_bad_lines_are_one_problem_each_and_good_records_still_come(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    raw = (
        _jsonl(
            '{"id": 1, "text": "Good one."}',
            '{"id": 2, "text": "Missing comma" "date": "2024-01-01"}',
            '{"id": 3, "title": "No text here"}',
            '["a list, not an object"]',
            '{"id": 5, "text": "   "}',
            '{"id": 6, "text": "Good two."}\r',
        )
        + b"\n\xff\xfe"
    )
    results = list(parse_jsonl(path, raw, FIELDS))
    assert [d.key for d in results if isinstance(d, RawDocument)] == ["1", "6"]
    assert [problem(p, path) for p in results if isinstance(p, FileProblem)] == [
        "line 2: malformed JSON (Expecting ',' delimiter at column 35)",
        "line 3: no 'text' field",
        "line 4: not a JSON object",
        "line 5: 'text' is not a non-empty string",
        "line 7: invalid UTF-8 (byte 0xff at column 1)",
    ]


def test_jsonl_custom_field_names(tmp_path: Path) -> None:
    fields = JsonFields(text="story", title="headline", date="published_at", source="outlet", url="link", id="uid")
    line = (
        '{"uid": "a7", "story": "Custom story.", "headline": "H", "published_at": "2024-03-12T10:00:00Z",'
        ' "outlet": "AP", "link": "https://ap/a7", "text": "not this one"}'
    )
    doc = document(next(parse_jsonl(tmp_path / "x.jsonl", line.encode(), fields)))
    assert (doc.key, doc.text) == ("a7", "Custom story.")
    assert doc.meta == {"title": "H", "source": "AP", "url": "https://ap/a7", "published": "2024-03-12"}
    missing = next(parse_jsonl(tmp_path / "x.jsonl", b'{"body2": "x"}', JsonFields(text="body")))
    assert problem(missing, tmp_path / "x.jsonl") == "line 1: no 'body' field"


def test_editing_one_record_changes_only_its_raw_bytes(tmp_path: Path) -> None:
    before = [{"id": "a", "text": "One."}, {"id": "b", "text": "Two."}]
    after = [{"id": "a", "text": "One."}, {"id": "b", "text": "Two, edited."}]
    old = [document(d).raw for d in parse_json(tmp_path / "x.json", json.dumps(before).encode(), FIELDS)]
    new = [document(d).raw for d in parse_json(tmp_path / "x.json", json.dumps(after, indent=2).encode(), FIELDS)]
    assert old[0] == new[0] and old[1] != new[1]


@pytest.mark.parametrize(
    "data",
    [
        [{"text": "One."}, {"text": "Two."}],
        {"articles": [{"text": "One."}, {"text": "Two."}], "total": 2},
        {"data": [{"text": "One."}, {"text": "Two."}]},
    ],
)
def test_json_list_of_records_top_level_or_nested(tmp_path: Path, data: object) -> None:
    path = tmp_path / "export.json"
    docs = [document(d) for d in parse_json(path, json.dumps(data).encode(), FIELDS)]
    one, two = (json.dumps({"text": t}, sort_keys=True).encode() for t in ("One.", "Two."))
    assert [(d.key, d.text) for d in docs] == [(key(one), "One."), (key(two), "Two.")]


def test_json_single_record_is_one_article_named_by_the_file(tmp_path: Path) -> None:
    raw = json.dumps({"text": "Only story.", "title": "T"}).encode()
    doc = document(next(parse_json(tmp_path / "one.json", raw, FIELDS)))
    assert (doc.key, doc.location, doc.text, doc.raw, doc.meta) == (
        "",
        str(tmp_path / "one.json"),
        "Only story.",
        raw,
        {"title": "T"},
    )


def test_json_problems(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    assert [problem(p, path) for p in parse_json(path, b'[{"text": "a"},\n {"text": }]', FIELDS)] == [
        "malformed JSON (line 2: Expecting value at column 11)"
    ]
    assert [problem(p, path) for p in parse_json(path, b"[]", FIELDS)] == ["no records (empty list)"]
    latin = '[{"text": "Café"}]'.encode("latin-1")
    assert [problem(p, path) for p in parse_json(path, latin, FIELDS)] == ["invalid UTF-8 (byte 0xe9 at offset 14)"]
    assert [problem(p, path) for p in parse_json(path, b'{"name": "x"}', FIELDS)] == ["no 'text' field"]
    items = list(parse_json(path, b'[{"text": "a"}, {"body": 3}]', FIELDS))
    assert document(items[0]).text == "a"
    assert problem(items[1], path) == "item 2: 'text' is not a non-empty string"


REALTIMEQA = SHARED / "eval" / "realtimeqa" / "passages.jsonl"


@pytest.mark.skipif(not REALTIMEQA.exists(), reason="../shared/eval is not here")
def test_realtimeqa_passages_parse_as_is() -> None:
    docs = list(parse_jsonl(REALTIMEQA, REALTIMEQA.read_bytes(), FIELDS))
    assert len(docs) == 4909 and all(isinstance(d, RawDocument) for d in docs)
    first = document(docs[0])
    assert first.location == f"{REALTIMEQA}#p266a22b6508b"
    assert first.meta == {
        "source": "CNN",
        "url": "https://www.cnn.com/interactive/2020/01/us/cnn-news-quiz-jan-03-2020-trnd/",
        "published": "2020-01-03",
    }
    assert first.text.startswith("Pro-Iranian demonstrators")


# --- dates -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-12", "2024-03-12"),
        ("2024-03-12T08:00:00+02:00", "2024-03-12"),
        ("2024/3/5", "2024-03-05"),
        ("12 March 2024", "2024-03-12"),
        ("Tue, 12 Mar 2024 08:00:00 GMT", "2024-03-12"),
        ("March 12th, 2024", "2024-03-12"),
        ("Sept. 1, 2024", "2024-09-01"),
        ("2024-02-30", None),
        ("12 Smarch 2024", None),
        ("yesterday", None),
    ],
)
def test_meta_dates(value: str, expected: str | None) -> None:
    assert parse_date(value) == expected


# --- a folder of every format, good and bad ---------------------------------------------------------------


def test_each_bad_file_is_one_problem_and_the_good_files_beside_it_are_read(tmp_path: Path) -> None:
    from rag.config import IngestSettings
    from rag.ingest.load import find_files, parse_file, read_bytes

    blank = PdfWriter()
    blank.add_blank_page(width=612, height=792)
    scan = io.BytesIO()
    blank.write(scan)
    files = {
        "good.txt": b"Kyiv restores power.",
        "good.md": b"# Heading\n\nMarkdown story.",
        "good.html": PAGE.encode(),
        "good.pdf": make_pdf(ARTICLE_PAGES, INFO),
        "good.docx": make_docx(["Docx story."]),
        "good.json": b'[{"text": "Json story."}]',
        "good.jsonl": b'{"text": "Line story."}\n{"oops": 1}\n',
        "bad/latin1.txt": "Café".encode("latin-1"),
        "bad/menu.html": b"<html><body><nav><a href='/'>Home</a></nav></body></html>",
        "bad/scan.pdf": scan.getvalue(),
        "bad/locked.pdf": _encrypted("secret"),
        "bad/corrupt.pdf": b"%PDF-1.4 garbage",
        "bad/corrupt.docx": b"not a zip",
        "bad/broken.json": b"{",
        "bad/empty.md": b"",
        "bad/huge.txt": b"",
    }
    for name, raw in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_bytes(raw)
    with (tmp_path / "bad/huge.txt").open("wb") as f:
        f.truncate(21_000_000)

    settings = IngestSettings()
    docs: list[RawDocument] = []
    problems: list[FileProblem] = []
    for found in find_files([tmp_path]):
        assert isinstance(found, Path), found
        raw = read_bytes(found, 20_000_000)
        for item in [raw] if isinstance(raw, FileProblem) else parse_file(found, raw, settings):
            if isinstance(item, RawDocument):
                docs.append(item)
            else:
                problems.append(item)

    assert sorted(d.location.removeprefix(f"{tmp_path}/") for d in docs) == [
        "good.docx",
        "good.html",
        "good.json#" + key(json.dumps({"text": "Json story."}).encode()),
        "good.jsonl#" + key(b'{"text": "Line story."}'),
        "good.md",
        "good.pdf",
        "good.txt",
    ]
    by_file = {Path(p.path).relative_to(tmp_path).as_posix(): p.reason for p in problems}
    assert len(by_file) == len(problems)  # one problem per bad file
    assert by_file == {
        "bad/broken.json": "malformed JSON (line 1: Expecting property name enclosed in double quotes at column 2)",
        "bad/corrupt.docx": by_file["bad/corrupt.docx"],
        "bad/corrupt.pdf": by_file["bad/corrupt.pdf"],
        "bad/empty.md": "empty file",
        "bad/huge.txt": "file too large (21,000,000 bytes; limit 20,000,000)",
        "bad/latin1.txt": "invalid UTF-8 (byte 0xe9 at offset 3)",
        "bad/locked.pdf": "PDF is encrypted",
        "bad/menu.html": "HTML has no article text (only navigation or markup)",
        "bad/scan.pdf": "PDF has no text layer (scanned images?); run OCR first",
        "good.jsonl": "line 2: no 'text' field",
    }
    assert by_file["bad/corrupt.docx"].startswith("not a readable .docx (")
    assert by_file["bad/corrupt.pdf"].startswith("not a readable PDF (")
    assert all("\n" not in str(p) for p in problems)
