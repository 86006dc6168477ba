"""Turn the bytes of one file into articles: plain text plus the metadata the file itself carries.

Contract with cleaning: every `RawDocument.text` is plain text, never markup. Extracted formats (HTML,
PDF, DOCX) give one paragraph per line, a blank line at most between pages; .txt / .md files and
JSON records come as written. `kind` only records where the text came from. Metadata the file carries
is in `meta`. Each parser returns a `FileProblem` with a one-line reason instead of raising, and
enforces the per-file limits of `IngestSettings` a hostile file could otherwise dodge (JSON and HTML
nesting, a .docx's decompressed size, PDF pages and time); `rag.ingest.guard` catches what slips through.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import logging
import re
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import charset_normalizer

from rag.config import IngestSettings, JsonFields
from rag.ingest.metadata import parse_date
from rag.types import FileProblem

# trafilatura, pypdf and python-docx take about half a second to import: they are imported by the
# parser that needs them, so commands that never read such a file (`rag ask`) do not pay for them.
if TYPE_CHECKING:
    from pypdf import PdfReader
    from trafilatura.settings import Document as Extracted


@dataclass(frozen=True)
class RawDocument:
    """One article's worth of input: a whole file, or one record of a JSON / JSON Lines export."""

    path: Path
    kind: str  # where the text came from: "text", "html", "pdf", "docx", "record", "feed" or "email"
    text: str  # plain text, never markup (extracted from HTML, PDF, DOCX or the JSON record)
    raw: bytes  # the bytes this article came from (the file, or the record's line), for hashing
    key: str = ""  # "" for one-article files; the record's id inside an export, else a hash of the record
    meta: dict[str, str] = field(default_factory=dict)  # known fields: title, source, url, published, author

    @property
    def location(self) -> str:
        """How citations and the index name this article: the file path, plus '#key' for records."""
        return f"{self.path}#{self.key}" if self.key else str(self.path)


Parsed = RawDocument | FileProblem


def _problem(path: Path, reason: str) -> FileProblem:
    return FileProblem(str(path), reason)


def _one_line(error: BaseException, limit: int = 120) -> str:
    """A library's error message fit for a one-line report."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


@contextmanager
def _quiet(*loggers: str) -> Iterator[None]:
    """Silence a library's own warnings about a file: the user gets our one-line problem instead."""
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in loggers]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


def _date_of(value: datetime | None) -> dict[str, str]:
    return {"published": value.date().isoformat()} if value else {}


def _meta(**values: str | None) -> dict[str, str]:
    """Metadata without empty fields, whitespace collapsed."""
    return {k: " ".join(v.split()) for k, v in values.items() if v and v.strip()}


_DEFAULTS = IngestSettings()

# --- plain text ---------------------------------------------------------------------------------------

# Windows tools save "Unicode" text as UTF-16 with a byte-order mark. UTF-32's marks come first: the
# little-endian one starts with UTF-16 LE's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)


def decode_with_bom(raw: bytes) -> tuple[str, str] | None:
    """(text, encoding name) of UTF-16 / UTF-32 bytes that start with their byte-order mark, else None.
    Raises UnicodeDecodeError when the bytes after the mark are not valid in that encoding."""
    for bom, codec, name in _BOMS:
        if raw.startswith(bom):
            return raw[len(bom) :].decode(codec), name
    return None


def _decode_utf8(path: Path, raw: bytes) -> str | FileProblem:
    """UTF-8 text (BOM allowed), or UTF-16 / UTF-32 text with its BOM; anything else is a problem."""
    try:
        marked = decode_with_bom(raw)
    except UnicodeDecodeError as e:
        return _problem(path, f"invalid {e.encoding.upper()[:6]} text after its byte-order mark (at byte {e.start})")
    if marked is not None:
        return marked[0]
    if b"\x00" in raw[:8192]:
        return _problem(path, "binary file (contains NUL bytes), not text")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        return _problem(path, f"invalid UTF-8 (byte 0x{raw[e.start]:02x} at offset {e.start})")


def parse_text(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """A .txt or .md file: UTF-8 (or BOM-marked UTF-16 / UTF-32) text as it is, byte-order mark removed."""
    text = _decode_utf8(path, raw)
    if isinstance(text, FileProblem):
        return text
    if not text.strip():
        return _problem(path, "empty file")
    return RawDocument(path=path, kind="text", text=text, raw=raw)


# --- HTML -----------------------------------------------------------------------------------------------

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([\w.:-]+)""", re.IGNORECASE)
# Browsers read pages labelled Latin-1 or ASCII as Windows-1252 (curly quotes, dashes); so do we.
_LABEL_ALIASES = {"iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252"}
# Never article text, even when the extractor's fallback finds nothing else.
_PRUNE = ["//nav", "//footer", "//aside"]
_WORD = re.compile(r"\w+")


def _decode_html(raw: bytes) -> str | None:
    """UTF-8, else the charset the page declares, else charset-normalizer's best guess (None: not text)."""
    try:
        marked = decode_with_bom(raw)
        if marked is not None:
            return marked[0]
    except UnicodeDecodeError:
        return None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if m := _META_CHARSET.search(raw[:4096]):
        label = m.group(1).decode("ascii", "replace").lower()
        try:
            return raw.decode(_LABEL_ALIASES.get(label, label))
        except (LookupError, UnicodeDecodeError):
            pass
    best = charset_normalizer.from_bytes(raw).best()
    return str(best) if best is not None else None


def element_depth(tree: Any, limit: int) -> int:
    """How deeply the elements of an lxml tree nest, counted without recursion, up to `limit + 1`."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        element, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in element)
    return deepest


def _main_text(html: str, max_depth: int) -> Extracted | str | None:
    """The article body by trafilatura; None when the page holds only navigation, links or markup; a
    reason when the page is refused (nested deeper than `max_depth`: trafilatura's tree walks recurse)."""
    import trafilatura
    from trafilatura.settings import Document

    tree = trafilatura.load_html(html)
    if tree is None:  # a bare fragment such as "<p>...</p>" is not accepted as a page
        tree = trafilatura.load_html(f"<html><body>{html}</body></html>")
    if tree is None:
        return None
    if element_depth(tree, max_depth) > max_depth:
        return f"HTML elements nested more than {max_depth} levels deep (limit ingest.max_html_depth)"
    link_words = set(_WORD.findall(" ".join(tree.xpath("//a//text()")).lower()))
    # Precision first (fewer share bars, bylines, related links); the balanced mode keeps short pages.
    for precise in (True, False):
        doc = trafilatura.bare_extraction(
            tree,
            favor_precision=precise,
            with_metadata=True,
            include_comments=False,
            include_tables=False,
            prune_xpath=_PRUNE,
            # No guessing a date from free text or a copyright line: only what the page marks as its date.
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
        if isinstance(doc, Document) and doc.text:
            words = set(_WORD.findall(doc.text.lower()))
            if words and not words <= link_words:  # text that is all link labels is a menu, not an article
                return doc
    return None


def parse_html(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """An .html page: the article's paragraphs, one per line, with title, date, site, URL and author."""
    if b"\x00" in raw[:8192] and not raw.startswith(tuple(bom for bom, _, _ in _BOMS)):
        return _problem(path, "binary file (contains NUL bytes), not text")
    html = _decode_html(raw)
    if html is None:
        return _problem(path, "cannot tell the text encoding (not UTF-8, no charset declared)")
    if not html.strip():
        return _problem(path, "empty file")
    with _quiet("trafilatura", "htmldate", "courlan"):
        doc = _main_text(html, limits.max_html_depth)
    if isinstance(doc, str):
        return _problem(path, doc)
    if doc is None:
        return _problem(path, "HTML has no article text (only navigation or markup)")
    meta = _meta(
        title=doc.title,
        source=doc.sitename or (doc.hostname or "").removeprefix("www."),
        url=doc.url,
        published=parse_date(doc.date or ""),
        author=doc.author,
    )
    return RawDocument(path=path, kind="html", text=doc.text or "", raw=raw, meta=meta)


# --- PDF ------------------------------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"""[.!?]["'”’»)\]]*$""")
_PAGE_NUMBER = re.compile(r"(?i)(page\s*)?\d{1,4}(\s*(of|/)\s*\d{1,4})?")
# Titles that are really file names, as word processors write them into the PDF info.
_FILE_NAME_TITLE = re.compile(r"(?i)^microsoft \w+ - |\.(docx?|pdf|indd|qxd|txt|rtf)$")


def _page_lines(page: str) -> list[str]:
    """A page's visual lines, stripped, without a page number at its top or bottom."""
    lines = [line.strip() for line in page.splitlines()]
    while lines and (not lines[-1] or _PAGE_NUMBER.fullmatch(lines[-1])):
        lines.pop()
    while lines and (not lines[0] or _PAGE_NUMBER.fullmatch(lines[0])):
        lines.pop(0)
    return lines


def _join(paragraph: str, line: str) -> str:
    """Append a visual line to its paragraph, rejoining a word hyphenated at the line end."""
    if paragraph.endswith("-") and paragraph[-2:-1].isalpha() and line[:1].islower():
        return paragraph[:-1] + line
    return f"{paragraph} {line}" if paragraph else line


def reflow_pdf_text(pages: list[str]) -> str:
    """PDF text comes as visual lines: rejoin them into paragraphs, one per line.

    A paragraph ends at a blank line, at a line ending a sentence, or at a short line (a heading or a
    paragraph's last line). A paragraph that runs over a page break is joined; other page breaks
    become blank lines.
    """
    out: list[str] = []
    paragraph = ""
    for page in pages:
        lines = _page_lines(page)
        lengths = sorted(len(line) for line in lines if line)
        full = lengths[int(0.8 * (len(lengths) - 1))] if lengths else 0  # a typical full line
        for line in lines:
            if line:
                paragraph = _join(paragraph, line)
            if paragraph and (not line or _SENTENCE_END.search(line) or len(line) < 0.6 * full):
                out.append(paragraph)
                paragraph = ""
        if not paragraph and out and out[-1]:
            out.append("")  # the page ended with its paragraph: keep the page break visible
    out.append(paragraph)
    return "\n".join(out).strip()


def _pdf_meta(reader: PdfReader) -> dict[str, str]:
    """Title, author and creation date from the PDF info dictionary; malformed entries are ignored."""
    try:
        info = reader.metadata
        if info is None:
            return {}
        title = info.title if info.title and not _FILE_NAME_TITLE.search(info.title.strip()) else None
        return _meta(title=title, author=info.author) | _date_of(info.creation_date)
    except Exception:  # a broken info entry must not cost the article its text
        return {}


def _pdf_pages(reader: PdfReader, limits: IngestSettings) -> list[str] | str:
    """The text of each page, or why the PDF is refused: too many pages, or extraction too slow (checked
    between pages, so one page can overrun it)."""
    count = len(reader.pages)
    if count > limits.max_pdf_pages:
        return f"PDF has {count:,} pages (limit {limits.max_pdf_pages:,}; raise ingest.max_pdf_pages to read it)"
    deadline = time.monotonic() + limits.max_pdf_seconds
    pages = []
    for number, page in enumerate(reader.pages, start=1):
        if time.monotonic() > deadline:
            return (
                f"PDF text extraction took over {limits.max_pdf_seconds:g} s (stopped at page {number:,} of {count:,}; "
                "raise ingest.max_pdf_seconds to read it)"
            )
        pages.append(page.extract_text())
    return pages


def parse_pdf(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """A .pdf: its text layer (no OCR), reflowed into paragraphs, with the info's title, author and date."""
    from pypdf import PasswordType, PdfReader

    try:
        with _quiet("pypdf"):
            reader = PdfReader(io.BytesIO(raw))
            if reader.is_encrypted and reader.decrypt("") == PasswordType.NOT_DECRYPTED:
                return _problem(path, "PDF is encrypted")
            pages = _pdf_pages(reader, limits)
            if isinstance(pages, str):
                return _problem(path, pages)
            meta = _pdf_meta(reader)
    # pypdf raises many exception types on malformed files; to the user they all mean the same thing.
    except Exception as e:
        return _problem(path, f"not a readable PDF ({_one_line(e)})")
    text = reflow_pdf_text(pages)
    if not text:
        return _problem(path, "PDF has no text layer (scanned images?); run OCR first")
    return RawDocument(path=path, kind="pdf", text=text, raw=raw, meta=meta)


# --- DOCX -----------------------------------------------------------------------------------------------


def _zip_problem(raw: bytes, limits: IngestSettings) -> str | None:
    """Why a .docx's zip is refused before python-docx unpacks it: not a zip, or it decompresses to more
    than the limit (a zip bomb). Sizes come from the zip's directory; a member that lies about its size
    is cut off at the stated size when read, so it cannot grow past the check."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            total = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as e:
        return f"not a readable .docx (not a zip file: {_one_line(e)})"
    limit = int(limits.max_office_mb * 1_000_000)
    if total > limit:
        return f".docx decompresses to {total:,} bytes (limit {limit:,}): a zip bomb, not a document"
    return None


def parse_docx(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """A Word .docx: its non-empty paragraphs, one per line, with the core title, author and created date."""
    import docx

    refused = _zip_problem(raw, limits)
    if refused:
        return _problem(path, refused)
    try:
        document = docx.Document(io.BytesIO(raw))
        paragraphs = [" ".join(p.text.split()) for p in document.paragraphs]
        props = document.core_properties
        meta = _meta(title=props.title, author=props.author) | _date_of(props.created)
    # A broken zip, a missing part or bad XML: python-docx lets each surface as its own type.
    except Exception as e:
        return _problem(path, f"not a readable .docx ({_one_line(e)})")
    text = "\n".join(p for p in paragraphs if p)
    if not text:
        return _problem(path, ".docx has no text")
    return RawDocument(path=path, kind="docx", text=text, raw=raw, meta=meta)


# --- JSON and JSON Lines records ------------------------------------------------------------------------

_TEXT_FALLBACKS = ("body", "content")
_LIST_KEYS = ("articles", "items", "data", "records", "documents", "results")


def _content_key(raw: bytes) -> str:
    """Key of a record without an id: its content, so inserting a line does not renumber the rest."""
    return "sha-" + hashlib.sha256(raw).hexdigest()[:12]


def json_depth(value: Any, limit: int) -> int:
    """How deeply arrays and objects nest in `value`, counted without recursion and only up to
    `limit + 1` (a hostile record cannot make the count itself deep or slow)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def _record(
    path: Path, record: Any, raw: bytes, key: str, where: str, fields: JsonFields, max_depth: int = 64
) -> Parsed:
    """One record object as a RawDocument; `where` ("line 5", "item 2", or "" for a whole file) names it."""
    at = f"{where}: " if where else ""
    if not isinstance(record, dict):
        return _problem(path, f"{at}not a JSON object")
    if json_depth(record, max_depth) > max_depth:
        return _problem(path, f"{at}nested more than {max_depth} levels deep (limit ingest.max_json_depth)")
    names = (fields.text, *(f for f in _TEXT_FALLBACKS if f != fields.text))
    text = next((record[name] for name in names if record.get(name) is not None), None)
    if text is None:
        return _problem(path, f"{at}no '{fields.text}' field")
    if not isinstance(text, str) or not text.strip():
        return _problem(path, f"{at}'{fields.text}' is not a non-empty string")

    def string(name: str) -> str | None:
        value = record.get(name)
        return str(value) if isinstance(value, str | int | float) else None

    meta = _meta(
        title=string(fields.title),
        source=string(fields.source),
        url=string(fields.url),
        published=parse_date(string(fields.date) or ""),
        author=string("author"),
    )
    return RawDocument(path=path, kind="record", text=text, raw=raw, key=string(fields.id) or key, meta=meta)


def _lines(raw: bytes) -> Iterator[tuple[int, bytes]]:
    """(1-based number, bytes) of each line, one at a time: a large export is never split all at once."""
    start, number = 0, 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        number += 1
        yield number, raw[start:end].rstrip(b"\r")
        start = end + 1


_JSON_ERRORS = (json.JSONDecodeError, UnicodeDecodeError, RecursionError)


def _json_problem(e: json.JSONDecodeError | UnicodeDecodeError | RecursionError, in_line: bool) -> str:
    """Where a JSON Lines line (columns) or a whole .json file (lines and columns) went wrong."""
    if isinstance(e, RecursionError):  # Python's JSON parser recurses once per level of nesting
        return "JSON nested too deeply to read (thousands of levels of arrays or objects)"
    if isinstance(e, UnicodeDecodeError):
        where = f"column {e.start + 1}" if in_line else f"offset {e.start}"
        return f"invalid UTF-8 (byte 0x{e.object[e.start]:02x} at {where})"
    line = "" if in_line else f"line {e.lineno}: "
    return f"malformed JSON ({line}{e.msg} at column {e.colno})"


def _load(blob: bytes) -> Any:
    """Parse UTF-8 JSON; json.loads would guess UTF-16 or UTF-32 from bytes, which JSON files never are
    (a UTF-16 / UTF-32 file with its byte-order mark is made UTF-8 first, by `_as_utf8`)."""
    return json.loads(blob.decode("utf-8-sig"))


def _as_utf8(raw: bytes) -> bytes:
    """A UTF-16 / UTF-32 export with its byte-order mark as UTF-8 (its lines split on b"\\n" only then);
    other bytes as they are. Raises UnicodeDecodeError for bytes invalid after the mark."""
    marked = decode_with_bom(raw)
    return marked[0].encode("utf-8") if marked else raw


def parse_jsonl(path: Path, raw: bytes, fields: JsonFields, limits: IngestSettings = _DEFAULTS) -> Iterator[Parsed]:
    """A JSON Lines export: one record per line (blank lines ignored); each bad line is its own problem."""
    try:
        raw = _as_utf8(raw)
    except UnicodeDecodeError as e:
        yield _problem(path, f"invalid {e.encoding.upper()[:6]} text after its byte-order mark (at byte {e.start})")
        return
    for number, line in _lines(raw):
        if not line.strip():
            continue
        try:
            record = _load(line)
        except _JSON_ERRORS as e:
            yield _problem(path, f"line {number}: {_json_problem(e, in_line=True)}")
            continue
        yield _record(path, record, line, _content_key(line), f"line {number}", fields, limits.max_json_depth)


def _record_list(data: Any) -> list[Any] | None:
    """The records of a .json file: the list itself, or a list under a usual key (None: one record)."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in _LIST_KEYS:
            if isinstance(records := data.get(key), list):
                return records
    return None


def parse_json(path: Path, raw: bytes, fields: JsonFields, limits: IngestSettings = _DEFAULTS) -> Iterator[Parsed]:
    """A .json file: a list of records, an object with a list under 'articles' etc., or one record."""
    try:
        data = _load(_as_utf8(raw))
    except _JSON_ERRORS as e:
        yield _problem(path, _json_problem(e, in_line=False))
        return
    records = _record_list(data)
    depth = limits.max_json_depth
    if records is None:
        yield _record(path, data, raw, "", "", fields, depth)
        return
    if not records:
        yield _problem(path, "no records (empty list)")
    for number, record in enumerate(records, start=1):
        if json_depth(record, depth) > depth:  # before json.dumps, which recurses as deep as the record
            yield _problem(path, f"item {number}: nested more than {depth} levels deep (limit ingest.max_json_depth)")
            continue
        # Canonical bytes per record: editing one record changes only that record's hash.
        blob = json.dumps(record, sort_keys=True, ensure_ascii=False).encode()
        yield _record(path, record, blob, _content_key(blob), f"item {number}", fields, depth)


# --- dispatch -------------------------------------------------------------------------------------------

ARTICLE_PARSERS: dict[str, Callable[[Path, bytes, IngestSettings], Parsed]] = {
    ".txt": parse_text,
    ".md": parse_text,
    ".html": parse_html,
    ".htm": parse_html,
    ".pdf": parse_pdf,
    ".docx": parse_docx,
}
RECORD_PARSERS: dict[str, Callable[[Path, bytes, JsonFields, IngestSettings], Iterator[Parsed]]] = {
    ".json": parse_json,
    ".jsonl": parse_jsonl,
}
