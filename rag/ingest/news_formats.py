"""News as it arrives: RSS / Atom / RDF feeds, e-mailed newsletters (.eml, .mbox) and pages saved as .mhtml.

Bound by the contract of `formats.py`, whose helpers these readers use: plain text out (HTML bodies go
through the same main-text extraction as pages), metadata in `meta`, a one-line `FileProblem` instead of
an exception. Feeds and mailboxes hold many articles, so they are record files: one `RawDocument` per
item or message with its own bytes and key (guid, Atom id or link; Message-ID), so an unchanged item is
not indexed again and a bad one is a problem of its own while the others still come.

XML is parsed without expanding entities, loading a DTD or touching the network; a document that declares
entities is refused (feeds never need them; entity bombs and entities naming local files do).
"""

from __future__ import annotations

import email
import email.policy
import html as html_lib
import re
from collections.abc import Callable, Iterator
from copy import deepcopy
from dataclasses import dataclass, replace
from email.message import EmailMessage, MIMEPart
from email.utils import parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from rag.config import IngestSettings, JsonFields
from rag.ingest.formats import (
    _DEFAULTS,
    Parsed,
    RawDocument,
    _content_key,
    _decode_html,
    _main_text,
    _meta,
    _one_line,
    _problem,
    _quiet,
    element_depth,
    parse_html,
)
from rag.ingest.metadata import parse_date, site_from_url
from rag.types import FileProblem

__all__ = ["Refused", "block_text", "parse_eml", "parse_feed", "parse_mbox", "parse_mhtml"]


@dataclass(frozen=True)
class Refused:
    """Why a body is not read (nested too deeply): the item's problem, not an empty text."""

    reason: str


# --- HTML bodies ----------------------------------------------------------------------------------------

# Elements that end a line of text: paragraphs, headings, list items, table cells, line breaks.
_BLOCKS = {
    *("address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "header", "hr"),
    *("h1", "h2", "h3", "h4", "h5", "h6", "li", "main", "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul"),
}
# Never text; navigation, footers and asides are not article text either (as `formats._PRUNE` has it).
_NEVER_TEXT = ("script", "style", "noscript", "template", "head", "svg", "nav", "footer", "aside")
_MARKUP = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]*>|<!--")


def block_text(html: str, max_depth: int) -> str | Refused:
    """The text of an HTML fragment with one block (paragraph, heading, list item, cell) per line.

    The fallback when trafilatura finds no article in a body: a newsletter laid out in tables or a
    two-line feed summary is still text. Walked with events, not recursion, after the depth check.
    """
    from lxml import etree
    from lxml import html as lxml_html

    try:
        tree = lxml_html.document_fromstring(html)
    except (etree.ParserError, ValueError):  # nothing but whitespace or comments
        return ""
    if element_depth(tree, max_depth) > max_depth:
        return Refused(f"HTML elements nested more than {max_depth} levels deep (limit ingest.max_html_depth)")
    etree.strip_elements(tree, *_NEVER_TEXT, etree.Comment, etree.ProcessingInstruction, with_tail=False)
    parts: list[str] = []
    for event, element in etree.iterwalk(tree, events=("start", "end")):
        block = element.tag in _BLOCKS
        if event == "start":
            parts.extend(("\n" if block else "", element.text or ""))
        else:
            parts.extend(("\n" if block else "", element.tail or ""))
    lines = (" ".join(line.split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _html_text(html: str, limits: IngestSettings) -> str | Refused:
    """An HTML body cleaned like a page: trafilatura's main text where it finds one, else every block."""
    with _quiet("trafilatura", "htmldate", "courlan"):
        doc = _main_text(html, limits.max_html_depth)
    if isinstance(doc, str):
        return Refused(doc)
    if doc is not None and doc.text and doc.text.strip():
        return doc.text
    return block_text(html, limits.max_html_depth)


def _inline(value: str) -> str:
    """A one-line field (title, author) that may hold escaped markup or entities, as plain words."""
    if _MARKUP.search(value):
        text = block_text(value, 255)
        value = text if isinstance(text, str) else ""
    return " ".join(html_lib.unescape(value).split())


# --- XML ------------------------------------------------------------------------------------------------

_ATOM_NS = ("http://www.w3.org/2005/Atom", "http://purl.org/atom/ns#")  # Atom 1.0, Atom 0.3
_RSS1 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_DC = "http://purl.org/dc/elements/1.1/"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_POSITION = re.compile(r",? line \d+, column \d+$")


def _parse_xml(raw: bytes) -> Any:
    """The root element of a feed's XML, or why it cannot be read (a str): malformed (with line and
    column), entities declared, or an expansion libxml2 stops (an entity bomb)."""
    from lxml import etree

    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        dtd_validation=False,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as e:
        message = _POSITION.sub("", e.msg or "")
        if "amplification" in message:
            return "XML entities expand to far more text than the file holds (an entity bomb); refused"
        line, column = e.position
        return f"malformed XML (line {line}, column {column}: {_one_line(Exception(message), 100)})"
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        return "XML declares entities (<!ENTITY>), which feeds never need (entity bombs and file includes do); refused"
    return root


def _tags(names: tuple[str, ...], namespaces: tuple[str, ...]) -> tuple[str, ...]:
    """Clark-notation tags of each name in each namespace ("" for none), in order of preference."""
    return tuple(f"{{{ns}}}{name}" if ns else name for name in names for ns in namespaces)


_RSS_NS = ("", _RSS1, _RSS090)


def _rss(*names: str) -> tuple[str, ...]:
    return _tags(names, _RSS_NS)


def _atom(*names: str) -> tuple[str, ...]:
    return _tags(names, _ATOM_NS)


def _children(element: Any, tags: tuple[str, ...]) -> Iterator[Any]:
    """The child elements with one of `tags`, the tags in order of preference, then in document order."""
    for tag in tags:
        yield from element.iterchildren(tag)


def _string(element: Any, tags: tuple[str, ...]) -> str:
    """The text of the first child with one of `tags` that has any ("" if none has)."""
    for child in _children(element, tags):
        text = "".join(child.itertext()).strip()
        if text:
            return text
    return ""


def _localname(element: Any) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


# --- feeds: one article per item or entry ---------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    """What one item or entry says, before its body is turned into text."""

    body: str  # the body as written: HTML or plain text
    is_html: bool
    title: str
    url: str
    date: str
    author: str
    key: str


@dataclass(frozen=True)
class _Feed:
    """The feed's own fields every item inherits, and the name items are reported by."""

    outlet: str
    author: str
    base: str  # the feed's own link: relative item links are resolved against it
    noun: str  # "item" (RSS, RDF) or "entry" (Atom)
    kind: str  # "RSS" or "Atom"


def _looks_html(text: str) -> bool:
    """RSS bodies are HTML by convention, but many are plain text: only markup makes them HTML (plain text
    keeps its line breaks)."""
    return bool(_MARKUP.search(text))


def _rss_author(value: str) -> str:
    """RSS <author> is an e-mail address, often "jane@example.com (Jane Doe)": the name when there is one."""
    if m := re.fullmatch(r"\s*\S+@\S+\s*\((.+)\)\s*", value):
        return m.group(1)
    return "" if re.fullmatch(r"\s*\S+@\S+\s*", value) else value


def _rss_entry(item: Any) -> _Entry:
    """The fields of an RSS 2.0 / 0.9x <item> or an RSS 1.0 (RDF) <item>."""
    full = _string(item, (f"{{{_CONTENT}}}encoded",))
    body = full or _string(item, _rss("description"))
    guid = next(_children(item, _rss("guid")), None)
    guid_text = "".join(guid.itertext()).strip() if guid is not None else ""
    link = _string(item, _rss("link"))
    if not link and guid is not None and guid.get("isPermaLink", "true") != "false" and "://" in guid_text:
        link = guid_text
    author = _rss_author(_string(item, _rss("author"))) or _string(item, (f"{{{_DC}}}creator",))
    return _Entry(
        body=body,
        is_html=_looks_html(body),
        title=_string(item, _rss("title")),
        url=link,
        date=_string(item, (*_rss("pubDate"), f"{{{_DC}}}date")),
        author=author,
        key=guid_text or item.get(f"{{{_RDF}}}about", "") or link,
    )


def _atom_link(element: Any) -> str:
    """The href of an Atom element's alternate link (rel="alternate" or no rel), HTML first."""
    links = [link for link in _children(element, _atom("link")) if link.get("rel", "alternate") == "alternate"]
    links.sort(key=lambda link: link.get("type", "text/html") not in ("text/html", "application/xhtml+xml"))
    return next((str(link.get("href")).strip() for link in links if link.get("href")), "")


def _atom_text(element: Any) -> tuple[str, bool]:
    """(body, is_html) of an Atom text construct: type text as written, html escaped, xhtml inline."""
    from lxml import etree

    kind = (element.get("type") or element.get("mode") or "text").lower()
    if "xhtml" in kind:  # the XHTML <div> inside (or whatever the feed put there) as an HTML string
        copy = deepcopy(element)  # a copy (lxml's, not recursive), so stripping names leaves the feed be
        copy.tail = None
        for node in copy.iter():
            if isinstance(node.tag, str):
                node.tag = etree.QName(node).localname
        etree.cleanup_namespaces(copy)
        return etree.tostring(copy, encoding="unicode", method="html"), True
    text = "".join(element.itertext())
    return text, "html" in kind or "escaped" in kind


def _atom_entry(entry: Any) -> _Entry:
    """The fields of an Atom <entry>; its content, else its summary."""
    body, is_html = "", False
    for element in _children(entry, _atom("content", "summary")):
        if element.get("src"):  # content elsewhere (out of line): the summary is all the feed holds
            continue
        body, is_html = _atom_text(element)
        if body.strip():
            break
    title = next(_children(entry, _atom("title")), None)
    url = _atom_link(entry)
    author = next((_string(a, _atom("name")) for a in _children(entry, _atom("author"))), "")
    return _Entry(
        body=body,
        is_html=is_html,
        title=_atom_text(title)[0] if title is not None else "",
        url=url,
        date=_string(entry, (*_atom("published", "issued", "created", "updated", "modified"), f"{{{_DC}}}date")),
        author=author,
        key=_string(entry, _atom("id")) or url,
    )


def _feed_of(root: Any) -> tuple[_Feed, list[Any]] | None:
    """The feed's own fields and its items (or entries), by the root element; None: not a feed."""
    local = _localname(root)
    namespace = root.tag[1:].split("}")[0] if root.tag.startswith("{") else ""
    if local == "feed" and namespace in _ATOM_NS:
        base = _atom_link(root)
        author = next((_string(a, _atom("name")) for a in _children(root, _atom("author"))), "")
        outlet = _inline(_string(root, _atom("title"))) or site_from_url(base)
        return _Feed(outlet, author, base, "entry", "Atom"), list(_children(root, _atom("entry")))
    if local == "rss" and not namespace:
        channel = next(root.iterchildren("channel"), None)
        holder = channel if channel is not None else root
    elif local == "RDF" and namespace == _RDF:
        channel = next(_children(root, _rss("channel")), None)
        holder = root  # RSS 1.0 items are the RDF root's children, beside the channel
    else:
        return None
    title = _string(channel, _rss("title")) if channel is not None else ""
    base = _string(channel, _rss("link")) if channel is not None else ""
    items = list(_children(holder, _rss("item")))
    return _Feed(_inline(title) or site_from_url(base), "", base, "item", "RSS"), items


def _entry_document(path: Path, item: Any, feed: _Feed, number: int, limits: IngestSettings) -> Parsed:
    """One item as an article: its body as text, the feed's outlet, its own title, link, date, author."""
    from lxml import etree

    at = f"{feed.noun} {number}"
    entry = _atom_entry(item) if feed.noun == "entry" else _rss_entry(item)
    text: str | Refused = entry.body.strip()
    if entry.is_html and isinstance(text, str) and text:
        text = _html_text(text, limits)
    if isinstance(text, Refused):
        return _problem(path, f"{at}: {text.reason}")
    if not text.strip():
        return _problem(path, f"{at}: no text")
    raw = etree.tostring(item)
    meta = _meta(
        title=_inline(entry.title),
        source=feed.outlet,
        url=urljoin(feed.base, entry.url) if entry.url and feed.base else entry.url,
        published=parse_date(entry.date),
        author=_inline(entry.author or feed.author),
    )
    return RawDocument(path=path, kind="feed", text=text, raw=raw, key=entry.key or _content_key(raw), meta=meta)


def parse_feed(path: Path, raw: bytes, fields: JsonFields, limits: IngestSettings = _DEFAULTS) -> Iterator[Parsed]:
    """An RSS 2.0 / 0.9x, RSS 1.0 (RDF) or Atom feed: one article per item or entry. A .xml file that is
    not a feed is a problem (it may be any XML at all); so is a feed without items."""
    root = _parse_xml(raw)
    if isinstance(root, str):
        yield _problem(path, root)
        return
    found = _feed_of(root)
    if found is None:
        kind = "XML file" if path.suffix.lower() == ".xml" else "file"
        yield _problem(path, f"{kind} is not an RSS or Atom feed (its root element is <{_localname(root)}>)")
        return
    feed, items = found
    if not items:
        yield _problem(path, f"{feed.kind} feed has no {'entries' if feed.noun == 'entry' else 'items'}")
    for number, item in enumerate(items, start=1):
        yield _entry_document(path, item, feed, number, limits)


# --- e-mail: .eml newsletters, .mbox mailboxes, .mhtml saved pages ----------------------------------------

_URL_HEADERS = ("Archived-At", "List-Post", "List-Archive")  # the message's own archive first, the list's last
_HTTP_URL = re.compile(r"<\s*(https?://[^>\s]+)\s*>|(https?://\S+)")


def _message(raw: bytes) -> EmailMessage:
    """The message, parsed with the modern policy (decoded headers, `get_body`, defects not exceptions)."""
    return email.message_from_bytes(raw, policy=email.policy.default)


def _part_bytes(part: MIMEPart) -> bytes:
    """A part's content with its transfer encoding (base64, quoted-printable) undone."""
    data = part.get_payload(decode=True)
    return data if isinstance(data, bytes) else b""


def _part_text(part: MIMEPart) -> str:
    """A text part as a string: its declared charset, else UTF-8, else what the page says or a guess."""
    data = _part_bytes(part)
    charset = part.get_content_charset()
    if charset:
        try:
            return data.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    return _decode_html(data) or data.decode("utf-8", errors="replace")


def _leaves(message: MIMEPart) -> Iterator[MIMEPart]:
    """The message's non-multipart parts, depth first without recursion; an attached message is one leaf."""
    stack = [message]
    while stack:
        part = stack.pop()
        if part.is_multipart() and part.get_content_maintype() == "multipart":
            stack.extend(reversed([p for p in part.iter_parts() if isinstance(p, MIMEPart)]))
        else:
            yield part


def _header(message: MIMEPart, name: str) -> str:
    value = message.get(name)
    return " ".join(str(value).split()) if value is not None else ""


def _message_url(message: EmailMessage) -> str:
    """The web address of the newsletter: an http(s) URL in Archived-At, List-Post or List-Archive."""
    for name in _URL_HEADERS:
        if m := _HTTP_URL.search(_header(message, name)):
            return m.group(1) or m.group(2)
    return ""


_DEFECTS = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "StartBoundaryNotFoundDefect": "its multipart boundary never appears",
    "CloseBoundaryNotFoundDefect": "a multipart part is never closed",
    "MissingHeaderBodySeparatorDefect": "no blank line after the headers",
    "InvalidBase64CharactersDefect": "invalid base64",
    "InvalidBase64PaddingDefect": "invalid base64",
}


def _defects(message: MIMEPart) -> str:
    """What the email package found wrong with a message, in words ("" if nothing)."""
    found = {type(d).__name__ for d in message.defects}
    named = sorted({_DEFECTS[name] for name in found if name in _DEFECTS})
    others = sorted(name.removesuffix("Defect") for name in found - set(_DEFECTS))
    return "; ".join(named or others)


def _body(message: EmailMessage, limits: IngestSettings) -> tuple[str, list[MIMEPart]] | Refused:
    """(text, the body parts) of a message: its HTML body cleaned like a page, else its plain text ("" if
    neither holds any; no parts: it has neither)."""
    parts = [p for kind in ("html", "plain") if isinstance(p := message.get_body(preferencelist=(kind,)), MIMEPart)]
    for part in parts:
        content = _part_text(part)
        text = _html_text(content, limits) if part.get_content_subtype() == "html" else content.strip()
        if isinstance(text, Refused):
            return text
        if text.strip():
            return text, parts
    return "", parts


def _message_document(path: Path, raw: bytes, limits: IngestSettings, in_mbox: bool = False) -> RawDocument | str:
    """One newsletter as an article (or why not): Subject, sender, Date and archive URL as its metadata;
    attachments (and inline images) are not read, but counted in meta["attachments_skipped"]. A message
    of a mailbox is keyed by its Message-ID, else by a hash of its bytes."""
    message = _message(raw)
    if not message.keys():
        return "not an e-mail message (no headers)"
    body = _body(message, limits)
    if isinstance(body, Refused):
        return body.reason
    text, used = body
    if not used:
        defects = _defects(message)
        return f"broken MIME ({defects}): no text or HTML part" if defects else "message has no text or HTML part"
    if not text:
        return "message has no text"
    # Every other part is an attachment or an inline image; another rendering of the body is neither.
    renderings = ("text/plain", "text/html")
    skipped = sum(
        1
        for part in _leaves(message)
        if all(part is not u for u in used) and (part.is_attachment() or part.get_content_type() not in renderings)
    )
    name, address = parseaddr(_header(message, "From"))
    meta = _meta(
        title=_header(message, "Subject"),  # plain text, decoded: "<draft>" in a subject is a word, not a tag
        source=name or address,
        url=_message_url(message),
        published=parse_date(_header(message, "Date")),
    )
    if skipped:
        meta["attachments_skipped"] = str(skipped)
    key = (_header(message, "Message-ID").strip("<> ") or _content_key(raw)) if in_mbox else ""
    return RawDocument(path=path, kind="email", text=text, raw=raw, key=key, meta=meta)


def parse_eml(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """An .eml message (a newsletter): one article."""
    try:
        doc = _message_document(path, raw, limits)
    # The email package reports most damage as defects, but some malformed headers raise.
    except Exception as e:
        return _problem(path, f"broken e-mail message ({type(e).__name__}: {_one_line(e, 100)})")
    return doc if isinstance(doc, RawDocument) else _problem(path, doc)


# A "From " line that separates messages: at the start of the file or after a blank line, or one that
# reads like an mbox separator ("From sender@example.com Mon Jun  9 08:00:00 2025") anywhere.
_FROM_LINE = re.compile(rb"^From [^\n]*$", re.MULTILINE)
_FROM_DATE = re.compile(rb"^From \S+ +\w{3} \w{3} +\d{1,2} \d{1,2}:\d{2}(:\d{2})? (\S+ )?\d{4}\s*$")
_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)


def _separator(raw: bytes, start: int, line: bytes) -> bool:
    """A "From " line starting at `start` separates two messages (a body's own is quoted as ">From ")."""
    after_blank = raw[max(0, start - 2) : start] == b"\n\n" or raw[max(0, start - 4) : start] == b"\r\n\r\n"
    return start == 0 or after_blank or bool(_FROM_DATE.match(line))


def mbox_messages(raw: bytes) -> Iterator[bytes]:
    """The messages of an mbox file, one at a time, with ">From " quoting undone (mboxrd: one '>' less).
    Bytes before the first "From " line count as a message too (a lone message saved as .mbox)."""
    start = 0
    for m in _FROM_LINE.finditer(raw):
        if not _separator(raw, m.start(), m.group().rstrip(b"\r")):
            continue
        if raw[start : m.start()].strip():
            yield _QUOTED_FROM.sub(rb"\1", raw[start : m.start()])
        start = m.end() + 1
    if raw[start:].strip():
        yield _QUOTED_FROM.sub(rb"\1", raw[start:])


def parse_mbox(path: Path, raw: bytes, fields: JsonFields, limits: IngestSettings = _DEFAULTS) -> Iterator[Parsed]:
    """An .mbox mailbox: one article per message, keyed by its Message-ID (else a hash of its bytes);
    a bad message is its own problem and the others still come."""
    count = 0
    for number, blob in enumerate(mbox_messages(raw), start=1):
        count = number
        try:
            doc = _message_document(path, blob, limits, in_mbox=True)
        except Exception as e:  # as in parse_eml: a header the email package cannot parse
            doc = f"broken e-mail message ({type(e).__name__}: {_one_line(e, 100)})"
        yield doc if isinstance(doc, RawDocument) else _problem(path, f"message {number}: {doc}")
    if not count:
        yield _problem(path, "mbox file has no messages")


def _mhtml_document(path: Path, raw: bytes, limits: IngestSettings) -> Parsed:
    message = _message(raw)
    if not message.keys() and raw.lstrip()[:1] == b"<":  # a plain HTML page saved under the .mht name
        return parse_html(path, raw, limits)
    page = next((p for p in _leaves(message) if p.get_content_type() == "text/html"), None)
    if page is None:
        defects = _defects(message)
        broken = f"broken MIME ({defects}): " if defects else ""
        return _problem(path, f"{broken}saved page (MHTML) has no HTML part")
    charset = page.get_content_charset()
    data = _part_text(page).encode("utf-8") if charset else _part_bytes(page)  # else the page's own <meta>
    doc = parse_html(path, data, limits)
    if isinstance(doc, FileProblem):
        return doc
    location = _header(page, "Content-Location") or _header(message, "Snapshot-Content-Location")
    extra = _meta(
        url=location if location.startswith(("http://", "https://")) else None,
        title=_header(message, "Subject"),
    )
    return replace(doc, raw=raw, meta=extra | doc.meta)


def parse_mhtml(path: Path, raw: bytes, limits: IngestSettings = _DEFAULTS) -> Parsed:
    """An .mhtml / .mht page saved by a browser: its first HTML part read as a page (title, date, site),
    with the part's Content-Location as the URL when the page names none."""
    try:
        return _mhtml_document(path, raw, limits)
    except Exception as e:  # as in parse_eml
        return _problem(path, f"broken MHTML file ({type(e).__name__}: {_one_line(e, 100)})")


# --- dispatch -------------------------------------------------------------------------------------------

# Beside formats.py's own: rag.ingest.load dispatches on both tables.
NEWS_ARTICLE_PARSERS: dict[str, Callable[[Path, bytes, IngestSettings], Parsed]] = {
    ".eml": parse_eml,
    ".mht": parse_mhtml,
    ".mhtml": parse_mhtml,
}
NEWS_RECORD_PARSERS: dict[str, Callable[[Path, bytes, JsonFields, IngestSettings], Iterator[Parsed]]] = {
    ".atom": parse_feed,
    ".mbox": parse_mbox,
    ".rss": parse_feed,
    ".xml": parse_feed,
}
