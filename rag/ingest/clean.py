"""Raw text or HTML to a clean Article: Unicode normalised, markup gone, title, site, URL, date and language found."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlparse

from rag.ingest.load import RawDocument
from rag.types import Article

CLEANER_VERSION = "1"  # bump when cleaning changes the text, so articles are re-ingested

# Tags whose content is never article text.
_SKIP_TAGS = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "svg", "template"}
_BLOCK_TAGS = {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "blockquote"}


class _HTMLText(HTMLParser):
    """Collects visible text (block tags become line breaks) and the meta fields a citation needs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.meta: dict[str, str] = {}
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in _SKIP_TAGS:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "meta":
            key = (a.get("property") or a.get("name") or a.get("itemprop") or "").lower()
            if key and a.get("content"):
                self.meta.setdefault(key, a["content"])
        elif tag == "link" and a.get("rel") == "canonical" and a.get("href"):
            self.meta.setdefault("canonical", a["href"])
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def normalise_text(text: str) -> str:
    """NFC, one kind of line break and space, no trailing blanks, at most one empty line in a row."""
    text = unicodedata.normalize("NFC", text).replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u00a0", " ").replace("\u200b", "")
    lines = [re.sub(r"[ \t\f\v]+", " ", line).strip() for line in text.split("\n")]
    text = "\n".join(lines)
    # Scrapers break "Dr." / "Mr." from the name that follows onto its own line: rejoin them.
    text = re.sub(r"(?m)^((?:Dr|Mr|Mrs|Ms|Prof|Gen|Col)\.)\n+(?=\w)", r"\1 ", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")


def _iso_date(value: str) -> str | None:
    m = _DATE_ISO.search(value)
    return f"{m.group(1)}-{m.group(2)}-{m.group(3)}" if m else None


def _title_from_text(text: str) -> str:
    """A headline-like line near the top (5+ words, short, no full stop), else the first line, cut."""
    lines = [line for line in text.split("\n")[:40] if line.strip()]
    for line in lines:
        if len(line.split()) >= 5 and len(line) <= 150 and not line.rstrip().endswith((".", ":", "?", "!")):
            return line
    first = lines[0] if lines else ""
    return first if len(first) <= 120 else first[:117].rsplit(" ", 1)[0] + "..."


def clean_document(doc: RawDocument) -> Article:
    """Turn one read file into an Article; its id is the hash of the cleaned text."""
    meta: dict[str, str] = {}
    title = ""
    if doc.kind == "html":
        parser = _HTMLText()
        parser.feed(doc.text)
        text = normalise_text("".join(parser.parts))
        meta = parser.meta
        title = normalise_text(meta.get("og:title") or parser.title)
    else:
        text = normalise_text(doc.text)
    url = meta.get("og:url") or meta.get("canonical") or ""
    source = meta.get("og:site_name") or (urlparse(url).hostname or "").removeprefix("www.")
    published = _iso_date(
        meta.get("article:published_time") or meta.get("datepublished") or meta.get("date") or ""
    ) or _iso_date(doc.path.stem)
    return Article(
        id=hashlib.sha256(text.encode()).hexdigest()[:16],
        path=str(doc.path),
        title=title or _title_from_text(text) or Path(doc.path).stem,
        source=source,
        url=url,
        published=published,
        language=detect_language(text),
        text=text,
        sha256=hashlib.sha256(doc.raw).hexdigest(),
    )


# Very common function words: enough to tell the languages of a news collection apart.
_STOPWORDS = {
    "en": "the and of to in is that for was with on as by said have from has are were",
    "sv": "och att det som en på är av för med till den har inte de om ett säger",
    "de": "der die und das ist nicht mit den von zu ein sich auf für im dem",
    "fr": "le la les et des est une en du que pour dans qui sur pas par",
    "es": "el la los las y en que del se por con una para es al",
    "it": "il di che la per una sono della non con del al le si",
    "nl": "de het een en van is dat op te niet zijn voor met",
    "pt": "o a os de que do da em um para com não uma no na",
    "da": "og at det som en på er af for med til den har ikke de",
    "pl": "i w na z że się nie do to jest jak o od po",
    "ru": "и в не на что с по как это он из за от то",
    "uk": "і в не на що з та як це до за від у є",
}
FUNCTION_WORDS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}


def detect_language(text: str) -> str:
    """ISO 639-1 code of the most likely language by function-word counts; 'und' when unsure."""
    words = re.findall(r"[^\W\d_]+", text[:5000].lower())
    if not words:
        return "und"
    scores = {lang: sum(w in stops for w in words) for lang, stops in FUNCTION_WORDS.items()}
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] >= max(2, len(words) // 50) else "und"
