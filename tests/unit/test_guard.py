"""The file boundary: a hostile file becomes that file's problem with a specific reason, the per-file
limits hold, and the rest of the run goes on (rag.ingest.guard, the limits in rag.ingest.formats)."""

from __future__ import annotations

import codecs
import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docx
import pytest

import rag.ingest.load
from rag.config import IngestSettings
from rag.ingest.formats import RawDocument, element_depth, json_depth, parse_docx, parse_html, parse_pdf, parse_text
from rag.ingest.load import parse_file
from rag.testing.documents import make_pdf
from rag.types import FileProblem

pytestmark = pytest.mark.usefixtures("rag_env")

STORY = "Officials in Kharkiv said on Monday that power was restored to most homes after the strike."


def _parse(path: Path, raw: bytes, **limits: Any) -> list[RawDocument | FileProblem]:
    return list(parse_file(path, raw, IngestSettings(**limits)))


def _reasons(items: list[RawDocument | FileProblem]) -> list[str]:
    return [i.reason for i in items if isinstance(i, FileProblem)]


def _docx(paragraphs: list[str]) -> bytes:
    d = docx.Document()
    for p in paragraphs:
        d.add_paragraph(p)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


# --- encodings -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_text_in_utf16_or_utf32_with_a_bom_is_read(tmp_path: Path, codec: str) -> None:
    bom = {"le": codecs.BOM_UTF16_LE, "be": codecs.BOM_UTF16_BE}
    if codec.startswith("utf-32"):
        bom = {"le": codecs.BOM_UTF32_LE, "be": codecs.BOM_UTF32_BE}
    # "utf-16" / "utf-32" write their own BOM (this machine's byte order), the -le/-be codecs none.
    raw = STORY.encode(codec) if codec in ("utf-16", "utf-32") else bom[codec[-2:]] + STORY.encode(codec)
    doc = parse_text(tmp_path / "windows.txt", raw)
    assert isinstance(doc, RawDocument) and doc.text == STORY


def test_utf16_without_a_bom_is_still_binary_and_a_broken_one_is_named(tmp_path: Path) -> None:
    no_bom = parse_text(tmp_path / "a.txt", STORY.encode("utf-16-le"))
    assert isinstance(no_bom, FileProblem) and no_bom.reason == "binary file (contains NUL bytes), not text"
    broken = parse_text(tmp_path / "b.txt", codecs.BOM_UTF16_LE + STORY.encode("utf-16-le") + b"\x00\xd8")
    assert isinstance(broken, FileProblem) and broken.reason.startswith("invalid UTF-16 text after its byte-order")


def test_utf16_html_and_json_with_a_bom_are_read(tmp_path: Path) -> None:
    page = f"<html><head><title>Power</title></head><body><article><p>{STORY}</p></article></body></html>"
    doc = parse_html(tmp_path / "page.html", page.encode("utf-16"))
    assert isinstance(doc, RawDocument) and STORY in doc.text
    records = _parse(tmp_path / "x.jsonl", f'{{"text": "{STORY}"}}\n{{"text": "Second."}}\n'.encode("utf-16"))
    assert [d.text for d in records if isinstance(d, RawDocument)] == [STORY, "Second."]


# --- nesting -------------------------------------------------------------------------------------------


def test_json_nested_100000_deep_is_a_problem_not_a_recursion_error(tmp_path: Path) -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    assert _reasons(_parse(tmp_path / "deep.json", deep)) == [
        "JSON nested too deeply to read (thousands of levels of arrays or objects)"
    ]
    line = b'{"text": "ok"}\n' + b"[" * 100_000 + b"]" * 100_000 + b'\n{"text": "fine"}\n'
    items = _parse(tmp_path / "deep.jsonl", line)
    assert [d.text for d in items if isinstance(d, RawDocument)] == ["ok", "fine"]
    assert _reasons(items) == ["line 2: JSON nested too deeply to read (thousands of levels of arrays or objects)"]


def test_json_record_deeper_than_the_limit_is_a_problem_and_its_neighbours_are_read(tmp_path: Path) -> None:
    nested = '{"a": ' * 100 + "1" + "}" * 100
    raw = f'[{{"text": "one"}}, {{"text": "two", "extra": {nested}}}, {{"text": "three"}}]'.encode()
    items = _parse(tmp_path / "export.json", raw)
    assert [d.text for d in items if isinstance(d, RawDocument)] == ["one", "three"]
    assert _reasons(items) == ["item 2: nested more than 64 levels deep (limit ingest.max_json_depth)"]
    assert _reasons(_parse(tmp_path / "export.json", raw, max_json_depth=200)) == []


def test_depth_counts_stop_at_the_limit() -> None:
    value: Any = 1
    for _ in range(5000):  # deeper than Python's recursion limit: the count must not recurse
        value = [value]
    assert json_depth(value, 10) == 11
    assert json_depth({"a": [1, {"b": 2}]}, 10) == 3


def test_html_nested_deeper_than_the_limit_is_a_problem(tmp_path: Path) -> None:
    page = "<html><body>" + "<div>" * 100_000 + f"<p>{STORY}</p>" + "</div>" * 100_000 + "</body></html>"
    doc = parse_html(tmp_path / "deep.html", page.encode())
    assert isinstance(doc, FileProblem)
    assert doc.reason == "HTML elements nested more than 200 levels deep (limit ingest.max_html_depth)"
    shallow = "<html><body>" + "<div>" * 40 + f"<p>{STORY}</p>" + "</div>" * 40 + "</body></html>"
    assert isinstance(parse_html(tmp_path / "ok.html", shallow.encode()), RawDocument)


def test_element_depth_of_a_flat_tree() -> None:
    import lxml.html

    assert element_depth(lxml.html.fromstring("<div><p>a</p><p>b<b>c</b></p></div>"), 10) == 3


# --- sizes ---------------------------------------------------------------------------------------------


def test_docx_that_decompresses_past_the_limit_is_a_zip_bomb(tmp_path: Path) -> None:
    raw = _docx([STORY] * 50)
    assert isinstance(parse_docx(tmp_path / "a.docx", raw), RawDocument)
    bomb = parse_docx(tmp_path / "a.docx", raw, IngestSettings(max_office_mb=0.001))
    assert isinstance(bomb, FileProblem)
    assert bomb.reason.endswith("bytes (limit 1,000): a zip bomb, not a document")


def test_real_zip_bomb_is_refused_before_it_is_unpacked(tmp_path: Path) -> None:
    import zipfile

    out = io.BytesIO()
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z,
        z.open("word/document.xml", "w", force_zip64=True) as member,
    ):
        block = b"\0" * 1_000_000
        for _ in range(250):  # 250 MB of zeros, about 250 kB compressed
            member.write(block)
    assert len(out.getvalue()) < 2_000_000
    bomb = parse_docx(tmp_path / "bomb.docx", out.getvalue())
    assert isinstance(bomb, FileProblem) and "a zip bomb" in bomb.reason


def test_pdf_with_more_pages_than_the_limit_is_a_problem(tmp_path: Path) -> None:
    raw = make_pdf([[STORY]] * 5)
    assert isinstance(parse_pdf(tmp_path / "a.pdf", raw), RawDocument)
    many = parse_pdf(tmp_path / "a.pdf", raw, IngestSettings(max_pdf_pages=3))
    assert isinstance(many, FileProblem)
    assert many.reason == "PDF has 5 pages (limit 3; raise ingest.max_pdf_pages to read it)"


def test_pdf_extraction_stops_at_the_time_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pypdf

    real = pypdf.PageObject.extract_text
    clock = iter(range(0, 10_000, 50))  # every page "takes" 50 s
    monkeypatch.setattr("rag.ingest.formats.time.monotonic", lambda: next(clock))
    monkeypatch.setattr(pypdf.PageObject, "extract_text", lambda self, *a, **k: real(self))
    slow = parse_pdf(tmp_path / "slow.pdf", make_pdf([[STORY]] * 6), IngestSettings(max_pdf_seconds=120))
    assert isinstance(slow, FileProblem)
    assert slow.reason.startswith("PDF text extraction took over 120 s (stopped at page 3 of 6")


def test_article_longer_than_the_limit_is_a_problem(tmp_path: Path) -> None:
    line = ("word " * 400_000).encode()  # 2,000,000 characters on one line
    assert _reasons(_parse(tmp_path / "one-line.txt", line)) == [
        "article text has 2,000,000 characters (limit 1,000,000; split the file, or raise ingest.max_article_chars)"
    ]
    records = _parse(tmp_path / "x.jsonl", b'{"id": "big", "text": "' + b"a " * 600_000 + b'"}\n{"text": "ok"}\n')
    problem = next(r for r in records if isinstance(r, FileProblem))
    assert problem.path == f"{tmp_path / 'x.jsonl'}#big" and "1,200,000 characters" in problem.reason
    assert [r.text for r in records if isinstance(r, RawDocument)] == ["ok"]


# --- whatever a reader raises ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RecursionError("max depth"), "the file is nested too deeply for the reader (RecursionError)"),
        (MemoryError(), "not enough memory for this file (MemoryError)"),
        (KeyError(""), "KeyError: ''"),
        (ValueError("a bug\nin a library"), "ValueError: a bug in a library"),
    ],
)
def test_anything_a_reader_raises_becomes_the_files_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: Exception, reason: str
) -> None:
    def broken(path: Path, raw: bytes, limits: IngestSettings) -> RawDocument:
        raise error

    monkeypatch.setitem(rag.ingest.load.ARTICLE_PARSERS, ".html", broken)
    (item,) = _parse(tmp_path / "a.html", b"<p>x</p>")
    assert isinstance(item, FileProblem) and item.reason == f"reading failed: {reason}"


def test_records_read_before_a_reader_fails_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half(path: Path, raw: bytes, fields: Any, limits: IngestSettings) -> Any:
        yield RawDocument(path=path, kind="record", text="first", raw=b"1", key="1")
        raise RuntimeError("decoder bug")

    monkeypatch.setitem(rag.ingest.load.RECORD_PARSERS, ".jsonl", half)
    first, failed = _parse(tmp_path / "x.jsonl", b"{}")
    assert isinstance(first, RawDocument) and first.text == "first"
    assert isinstance(failed, FileProblem) and failed.reason == "reading failed: RuntimeError: decoder bug"


# --- through a real ingest run -----------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    news = tmp_path / "news"
    news.mkdir()
    (news / "good.txt").write_text(STORY)
    (news / "deep.json").write_bytes(b"[" * 100_000 + b"]" * 100_000)
    (news / "windows.txt").write_bytes("Sweden's parliament voted on the budget on Tuesday.".encode("utf-16"))
    (news / "notes.txt").symlink_to("/etc/shadow")
    return news


def test_ingest_names_each_hostile_file_and_reads_the_rest(
    folder: Path, tmp_path: Path, make_index: Callable[..., Any]
) -> None:
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(folder)
    assert sorted(Path(p).name for p in report.new) == ["good.txt", "windows.txt"]
    reasons = {Path(p.path).name: p.reason for p in report.failed}
    outside = "outside the folder being ingested; skipped (--follow-links reads it)"
    assert reasons == {
        "deep.json": "JSON nested too deeply to read (thousands of levels of arrays or objects)",
        "notes.txt": f"symbolic link to /etc/shadow, {outside}",
    }
    assert idx.search("Sweden parliament budget")[0].passage.path.endswith("windows.txt")


def test_followed_link_to_a_file_without_a_suffix_is_read_as_its_link_says(
    tmp_path: Path, make_index: Callable[..., Any]
) -> None:
    outside = tmp_path / "elsewhere" / "NOTES"
    outside.parent.mkdir()
    outside.write_text(STORY)
    news = tmp_path / "news"
    news.mkdir()
    (news / "notes.txt").symlink_to(outside)
    idx = make_index(tmp_path / "idx")
    assert [p.reason for p in idx.ingest(news).failed] == [
        f"symbolic link to {outside.resolve()}, outside the folder being ingested; skipped (--follow-links reads it)"
    ]
    report = idx.ingest(news, follow_links=True)
    assert report.new == [str(outside.resolve())] and not report.failed


def test_a_cleaning_bug_on_one_file_is_its_problem(
    folder: Path, tmp_path: Path, make_index: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    import rag.ingest.indexer

    real = rag.ingest.indexer.clean_document

    def clean(doc: RawDocument, *args: Any) -> Any:
        if doc.path.name == "good.txt":
            raise RecursionError("maximum recursion depth exceeded")
        return real(doc, *args)

    monkeypatch.setattr(rag.ingest.indexer, "clean_document", clean)
    report = make_index(tmp_path / "idx").ingest(folder / "good.txt", folder / "windows.txt")
    assert [Path(p).name for p in report.new] == ["windows.txt"]
    assert [p.reason for p in report.failed] == [
        "cleaning failed: the file is nested too deeply for the reader (RecursionError)"
    ]


def test_cli_ingest_of_a_hostile_folder_exits_0_with_one_line_each(
    folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rag.app.cli import main

    os.environ["RAG_EMBED__MODEL"] = "hashing"  # rag_env removes it again after the test
    assert main(["ingest", str(folder), "--index", str(tmp_path / "idx"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "2 new" in out and "2 failed" in out
    assert "Traceback" not in out
    assert f"  failed: {folder / 'notes.txt'}: symbolic link to /etc/shadow" in out


def test_the_same_guard_covers_text_piped_in(tmp_path: Path, make_index: Callable[..., Any]) -> None:
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(stdin=("deep.json", b"[" * 100_000 + b"]" * 100_000))
    assert [str(p) for p in report.failed] == [
        "stdin:deep.json: JSON nested too deeply to read (thousands of levels of arrays or objects)"
    ]
    assert idx.ingest(stdin=("memo.txt", STORY.encode("utf-16"))).new == ["stdin:memo.txt"]
