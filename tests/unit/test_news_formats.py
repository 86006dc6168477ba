"""News as it arrives (rag.ingest.news_formats): RSS / Atom / RDF feeds, .eml and .mbox newsletters, pages saved
as .mhtml; each built here as the tools that write them do, and each way such a file can be unusable."""

from __future__ import annotations

import base64
import quopri
import time
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from rag.config import IngestSettings, JsonFields
from rag.ingest.clean import clean_document
from rag.ingest.formats import RawDocument, parse_html
from rag.ingest.load import SUPPORTED_SUFFIXES, parse_file
from rag.ingest.news_formats import block_text, mbox_messages, parse_eml, parse_feed, parse_mbox, parse_mhtml
from rag.testing.documents import make_pdf
from rag.types import FileProblem

FIELDS = JsonFields()


def feed(path: Path, raw: bytes, **limits: Any) -> list[RawDocument | FileProblem]:
    return list(parse_feed(path, raw, FIELDS, IngestSettings(**limits)))


def documents(items: list[RawDocument | FileProblem]) -> list[RawDocument]:
    return [i for i in items if isinstance(i, RawDocument)]


def reasons(items: list[RawDocument | FileProblem]) -> list[str]:
    return [i.reason for i in items if isinstance(i, FileProblem)]


def document(parsed: RawDocument | FileProblem) -> RawDocument:
    assert isinstance(parsed, RawDocument), parsed
    return parsed


def problem(parsed: RawDocument | FileProblem) -> str:
    assert isinstance(parsed, FileProblem), parsed
    assert "\n" not in parsed.reason
    return parsed.reason


# --- RSS 2.0 -------------------------------------------------------------------------------------------------


def rss(items: str, title: str = "Kyiv Independent") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom">
<channel>
  <title>{title}</title>
  <link>https://kyivindependent.com/</link>
  <atom:link href="https://kyivindependent.com/feed/" rel="self" type="application/rss+xml"/>
  <description>News from Ukraine</description>
  <lastBuildDate>Tue, 10 Jun 2025 09:00:00 GMT</lastBuildDate>
{items}
</channel>
</rss>""".encode()


KHARKIV = """<item>
  <title>Power restored in Kharkiv after overnight strike</title>
  <link>https://kyivindependent.com/power-restored-kharkiv/</link>
  <guid isPermaLink="false">ki-1001</guid>
  <pubDate>Tue, 10 Jun 2025 04:00:00 GMT</pubDate>
  <dc:creator>Olena Hrytsenko</dc:creator>
  <description><![CDATA[<p>Officials in Kharkiv said on Monday that power was restored to most homes after the
  strike.</p><p>Repair crews worked through the night, the regional governor said.</p>]]></description>
</item>"""
ODESA = """<item>
  <title>Odesa port &amp; grain corridor: shipments resume</title>
  <link>https://kyivindependent.com/odesa-grain/</link>
  <guid>https://kyivindependent.com/?p=1002</guid>
  <pubDate>Mon, 9 Jun 2025 23:30:00 -0400</pubDate>
  <author>desk@kyivindependent.com (Anna Berg)</author>
  <description>Grain ships left Odesa again.</description>
  <content:encoded><![CDATA[<div class="entry"><p>Grain ships left the port of Odesa on Tuesday, the navy said.</p>
  <script>track("odesa")</script><p>Insurers had paused cover for two weeks after the attack.</p></div>]]>
  </content:encoded>
</item>"""
LVIV = """<item>
  <title>Lviv opens new shelters</title>
  <link>https://kyivindependent.com/lviv-shelters/</link>
  <pubDate>Sun, 08 Jun 2025 10:00:00 +0300</pubDate>
  <description>&lt;p&gt;The city of Lviv opened twelve new shelters near schools.&lt;/p&gt;&lt;p&gt;The mayor said
  more would follow.&lt;/p&gt;</description>
</item>"""


def test_rss_items_are_articles_with_their_own_metadata_and_keys(tmp_path: Path) -> None:
    path = tmp_path / "kyiv.rss"
    kharkiv, odesa, lviv = documents(feed(path, rss(KHARKIV + ODESA + LVIV)))
    assert (kharkiv.kind, kharkiv.key, kharkiv.location) == ("feed", "ki-1001", f"{path}#ki-1001")
    assert kharkiv.text == (
        "Officials in Kharkiv said on Monday that power was restored to most homes after the strike.\n"
        "Repair crews worked through the night, the regional governor said."
    )
    assert kharkiv.meta == {
        "title": "Power restored in Kharkiv after overnight strike",
        "source": "Kyiv Independent",
        "url": "https://kyivindependent.com/power-restored-kharkiv/",
        "published": "2025-06-10",
        "author": "Olena Hrytsenko",
    }
    # content:encoded (the full story) wins over the teaser in <description>; scripts are not text.
    assert odesa.text == (
        "Grain ships left the port of Odesa on Tuesday, the navy said.\n"
        "Insurers had paused cover for two weeks after the attack."
    )
    assert (odesa.key, odesa.meta["author"], odesa.meta["published"]) == (
        "https://kyivindependent.com/?p=1002",
        "Anna Berg",
        "2025-06-09",  # the date as the feed wrote it, in its own time zone
    )
    assert odesa.meta["title"] == "Odesa port & grain corridor: shipments resume"
    # Entity-escaped HTML is HTML too; an item without a guid is keyed by its link.
    assert lviv.text.splitlines() == [
        "The city of Lviv opened twelve new shelters near schools.",
        "The mayor said more would follow.",
    ]
    assert lviv.key == "https://kyivindependent.com/lviv-shelters/" and "author" not in lviv.meta
    # Each item's bytes are its own: editing one item changes only its hash.
    assert b"Kharkiv" in kharkiv.raw and b"Odesa" not in kharkiv.raw


def test_item_without_text_is_its_own_problem_and_the_others_still_come(tmp_path: Path) -> None:
    empty = "<item><title>Photo gallery</title><link>https://kyivindependent.com/gallery/</link></item>"
    image = '<item><title>Map</title><description><![CDATA[<img src="map.png">]]></description></item>'
    items = feed(tmp_path / "kyiv.rss", rss(KHARKIV + empty + LVIV + image))
    assert [d.key for d in documents(items)] == ["ki-1001", "https://kyivindependent.com/lviv-shelters/"]
    assert reasons(items) == ["item 2: no text", "item 4: no text"]


def test_item_without_guid_or_link_is_keyed_by_its_content(tmp_path: Path) -> None:
    (doc,) = documents(feed(tmp_path / "a.rss", rss("<item><description>Plain words of a story.</description></item>")))
    assert doc.key.startswith("sha-") and doc.text == "Plain words of a story."


def test_plain_text_description_keeps_its_lines(tmp_path: Path) -> None:
    item = (
        "<item><guid>x</guid><description>First line of the story.\nSecond line, a new paragraph.</description></item>"
    )
    (doc,) = documents(feed(tmp_path / "a.rss", rss(item)))
    assert doc.text == "First line of the story.\nSecond line, a new paragraph."


def test_channel_without_title_names_the_outlet_by_its_host(tmp_path: Path) -> None:
    raw = rss(KHARKIV).replace(b"<title>Kyiv Independent</title>", b"")
    (doc,) = documents(feed(tmp_path / "a.rss", raw))
    assert doc.meta["source"] == "kyivindependent.com"


def test_item_html_deeper_than_the_limit_is_that_items_problem(tmp_path: Path) -> None:
    deep = "<div>" * 40 + "<p>Deep story text here.</p>" + "</div>" * 40
    items = feed(
        tmp_path / "a.rss",
        rss(f"<item><guid>d</guid><description><![CDATA[{deep}]]></description></item>" + LVIV),
        max_html_depth=16,
    )
    assert reasons(items) == ["item 1: HTML elements nested more than 16 levels deep (limit ingest.max_html_depth)"]
    assert len(documents(items)) == 1


# --- Atom and RSS 1.0 ----------------------------------------------------------------------------------------

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title type="text">Baltic Wire</title>
  <link rel="self" href="https://balticwire.example/feed.atom"/>
  <link rel="alternate" type="text/html" href="https://balticwire.example/"/>
  <id>urn:uuid:60a76c80-d399-11d9-b93C-0003939e0af6</id>
  <updated>2025-06-12T09:00:00Z</updated>
  <author><name>Baltic Wire Desk</name></author>
  <entry>
    <title type="html">Riga &lt;em&gt;port&lt;/em&gt; reopens</title>
    <link rel="enclosure" type="audio/mpeg" href="https://balticwire.example/riga.mp3"/>
    <link rel="alternate" type="text/html" href="/2025/06/riga-port"/>
    <id>tag:balticwire.example,2025:riga-port</id>
    <published>2025-06-10T08:00:00+03:00</published>
    <updated>2025-06-12T09:00:00Z</updated>
    <author><name>Liis Tamm</name></author>
    <summary>The port reopened.</summary>
    <content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>The port of Riga reopened on Tuesday after
      a week of storms.</p><p>Ferries to Stockholm run <b>again</b> from Wednesday.</p></div></content>
  </entry>
  <entry>
    <title>Tallinn budget vote delayed</title>
    <link href="https://balticwire.example/2025/06/tallinn-budget"/>
    <id>tag:balticwire.example,2025:tallinn-budget</id>
    <updated>2025-06-11T18:00:00Z</updated>
    <summary type="text">The city council postponed the vote to next week.</summary>
  </entry>
</feed>"""


def test_atom_entries_with_xhtml_content_published_date_and_alternate_link(tmp_path: Path) -> None:
    riga, tallinn = documents(feed(tmp_path / "baltic.atom", ATOM))
    assert riga.text == (
        "The port of Riga reopened on Tuesday after a week of storms.\nFerries to Stockholm run again from Wednesday."
    )
    assert riga.meta == {
        "title": "Riga port reopens",
        "source": "Baltic Wire",
        "url": "https://balticwire.example/2025/06/riga-port",  # rel=alternate, resolved against the feed's link
        "published": "2025-06-10",  # published, not updated
        "author": "Liis Tamm",
    }
    assert riga.key == "tag:balticwire.example,2025:riga-port"
    assert tallinn.text == "The city council postponed the vote to next week."
    # No published date: updated; no author of its own: the feed's.
    assert (tallinn.meta["published"], tallinn.meta["author"]) == ("2025-06-11", "Baltic Wire Desk")


def test_rss_1_rdf_feed_in_a_xml_file(tmp_path: Path) -> None:
    raw = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://nordic.example/rss">
    <title>Nordic Notes</title><link>https://nordic.example/</link><description>Notes</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://nordic.example/a1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://nordic.example/a1">
    <title>Oslo tram strike ends</title>
    <link>https://nordic.example/a1</link>
    <description>Tram drivers in Oslo returned to work on Monday.</description>
    <dc:date>2025-06-09T10:00:00Z</dc:date>
    <dc:creator>Sven Lund</dc:creator>
  </item>
</rdf:RDF>"""
    (doc,) = documents(list(parse_file(tmp_path / "nordic.xml", raw, IngestSettings())))
    assert doc.text == "Tram drivers in Oslo returned to work on Monday."
    assert doc.meta == {
        "title": "Oslo tram strike ends",
        "source": "Nordic Notes",
        "url": "https://nordic.example/a1",
        "published": "2025-06-09",
        "author": "Sven Lund",
    }
    assert doc.key == "https://nordic.example/a1"


# --- XML that is not a usable feed ------------------------------------------------------------------------------


def test_xml_that_is_not_a_feed_and_feeds_without_items(tmp_path: Path) -> None:
    catalog = feed(tmp_path / "catalog.xml", b"<?xml version='1.0'?><catalog><book id='1'/></catalog>")
    assert reasons(catalog) == ["XML file is not an RSS or Atom feed (its root element is <catalog>)"]
    assert reasons(feed(tmp_path / "a.rss", rss(""))) == ["RSS feed has no items"]
    atom = feed(tmp_path / "a.atom", b'<feed xmlns="http://www.w3.org/2005/Atom"><title>T</title></feed>')
    assert reasons(atom) == ["Atom feed has no entries"]


def test_malformed_xml_names_line_and_column(tmp_path: Path) -> None:
    raw = b'<?xml version="1.0"?>\n<rss version="2.0"><channel>\n<title>Broken</title></chanel></rss>'
    (reason,) = reasons(feed(tmp_path / "broken.rss", raw))
    assert reason == "malformed XML (line 3, column 31: Opening and ending tag mismatch: channel line 2 and chanel)"
    (html,) = reasons(feed(tmp_path / "error.rss", b"<html><body><p>502 Bad Gateway<br></body></html>"))
    assert html.startswith("malformed XML (line 1, column ")


def test_billion_laughs_is_refused_fast_without_expanding(tmp_path: Path) -> None:
    levels = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol0 "lol">{levels}]>'
    bomb += "<rss><channel><title>T</title><item><description>&lol9;</description></item></channel></rss>"
    started = time.perf_counter()
    (reason,) = reasons(list(parse_file(tmp_path / "bomb.xml", bomb.encode(), IngestSettings())))
    assert time.perf_counter() - started < 1.0
    assert reason in (
        "XML entities expand to far more text than the file holds (an entity bomb); refused",
        "XML declares entities (<!ENTITY>), which feeds never need (entity bombs and file includes do); refused",
    )


def test_entities_naming_local_files_are_refused(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    raw = f"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>
<rss><channel><title>T</title><item><description>Leak: &x;</description></item></channel></rss>""".encode()
    items = feed(tmp_path / "xxe.rss", raw)
    assert reasons(items) == [
        "XML declares entities (<!ENTITY>), which feeds never need (entity bombs and file includes do); refused"
    ]


# --- .eml and .mbox newsletters --------------------------------------------------------------------------------

NEWSLETTER_HTML = """<html><head><style>p {color: red}</style></head><body>
<table><tr><td><a href="https://news.example/brief/2025-06-11">View in browser</a></td></tr>
<tr><td><h1>Morning Brief</h1>
<p>Parliament passed the 2026 budget late on Tuesday by 176 votes to 173.</p>
<p>The finance minister said the deficit would stay below three percent of output.</p>
<p>Opposition parties said they would challenge the pension cuts in court.</p></td></tr>
<tr><td><p><a href="https://news.example/unsubscribe">Unsubscribe</a></p></td></tr></table></body></html>"""
NEWSLETTER_TEXT = "Parliament passed the 2026 budget late on Tuesday by 176 votes to 173.\n\nUnsubscribe: https://..."


def newsletter(message_id: str = "<brief-0611@news.example>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "The Morning Brief <brief@news.example>"
    msg["To"] = "reader@example.org"
    msg["Subject"] = "Morning Brief: Parliament passes the budget"
    msg["Date"] = "Wed, 11 Jun 2025 06:30:00 +0200"
    msg["Message-ID"] = message_id
    msg["List-Post"] = "<mailto:brief@news.example>"  # not a web page: skipped
    msg["Archived-At"] = "<https://news.example/brief/2025-06-11>"
    msg.set_content(NEWSLETTER_TEXT)
    msg.add_alternative(NEWSLETTER_HTML, subtype="html")
    return msg


def test_eml_newsletter_html_part_cleaned_like_a_page_attachment_counted(tmp_path: Path) -> None:
    msg = newsletter()
    msg.add_attachment(make_pdf([["Budget tables"]]), maintype="application", subtype="pdf", filename="budget.pdf")
    raw = msg.as_bytes()
    doc = document(parse_eml(tmp_path / "brief.eml", raw))
    assert (doc.kind, doc.key, doc.raw) == ("email", "", raw)
    # The HTML alternative, not the text one; the header link and the heading are not the story.
    assert doc.text.splitlines()[:3] == [
        "Parliament passed the 2026 budget late on Tuesday by 176 votes to 173.",
        "The finance minister said the deficit would stay below three percent of output.",
        "Opposition parties said they would challenge the pension cuts in court.",
    ]
    assert "<" not in doc.text and "View in browser" not in doc.text
    assert doc.meta == {
        "title": "Morning Brief: Parliament passes the budget",
        "source": "The Morning Brief",
        "url": "https://news.example/brief/2025-06-11",
        "published": "2025-06-11",
        "attachments_skipped": "1",
    }
    # A metadata key cleaning does not know is carried, not a failure.
    article = clean_document(doc)
    assert (article.title, article.source, article.published) == (doc.meta["title"], "The Morning Brief", "2025-06-11")


def test_plain_text_only_eml_is_read_as_written(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "desk@wire.example"
    msg["Subject"] = "=?utf-8?q?Malm=C3=B6_trains_run_again?="
    msg["Date"] = "Thu, 12 Jun 2025 07:00:00 +0000"
    msg.set_content("Trains between Malmö and Copenhagen ran again on Thursday.\n\nThe bridge reopened at six.")
    doc = document(parse_eml(tmp_path / "wire.eml", msg.as_bytes()))
    assert doc.text == "Trains between Malmö and Copenhagen ran again on Thursday.\n\nThe bridge reopened at six."
    assert doc.meta == {"title": "Malmö trains run again", "source": "desk@wire.example", "published": "2025-06-12"}


def test_message_without_text_or_html_and_broken_mime_are_problems(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "scanner@office.example"
    msg["Subject"] = "Scan"
    msg.add_attachment(make_pdf([["x"]]), maintype="application", subtype="pdf", filename="scan.pdf")
    assert problem(parse_eml(tmp_path / "a.eml", msg.as_bytes())) == "message has no text or HTML part"
    broken = b'From: a@b.example\nSubject: x\nContent-Type: multipart/mixed; boundary="XYZ"\n\nno parts at all\n'
    assert problem(parse_eml(tmp_path / "b.eml", broken)) == (
        "broken MIME (its multipart boundary never appears): no text or HTML part"
    )
    assert problem(parse_eml(tmp_path / "c.eml", b"just some words\nand more")) == "not an e-mail message (no headers)"


def mbox_of(*messages: bytes) -> bytes:
    """An mbox as mail clients write it: a "From " line before each message, body "From " lines quoted."""
    out = b""
    for msg in messages:
        quoted = b"\n".join(
            b">" + line if line.lstrip(b">").startswith(b"From ") else line for line in msg.split(b"\n")
        )
        out += b"From brief@news.example Wed Jun 11 06:30:00 2025\n" + quoted.rstrip(b"\n") + b"\n\n"
    return out


def test_mbox_one_article_per_message_with_from_quoting_undone(tmp_path: Path) -> None:
    first = newsletter().as_bytes()
    second = EmailMessage()
    second["From"] = "Nordic Notes <notes@nordic.example>"
    second["Subject"] = "Weekly notes"
    second["Message-ID"] = "<notes-24@nordic.example>"
    second.set_content(
        "Ferries resumed on Monday.\n\nFrom the archive: the 1994 storm closed the port.\n"
        ">From an old quote, kept as written.\nOfficials said\nFrom Tuesday trains run hourly.\n"
    )
    third = EmailMessage()
    third["From"] = "desk@wire.example"
    third["Subject"] = "No id"
    third.set_content("A message without a Message-ID.")
    raw = mbox_of(first, second.as_bytes(), third.as_bytes())
    assert b"\n>From the archive" in raw and b"\n>>From an old quote" in raw
    assert len(list(mbox_messages(raw))) == 3
    items = list(parse_mbox(tmp_path / "inbox.mbox", raw, FIELDS))
    brief, notes, plain = documents(items)
    assert not reasons(items)
    assert (brief.key, brief.meta["source"]) == ("brief-0611@news.example", "The Morning Brief")
    assert (
        notes.key == "notes-24@nordic.example"
        and notes.location == f"{tmp_path / 'inbox.mbox'}#notes-24@nordic.example"
    )
    assert notes.text.splitlines() == [
        "Ferries resumed on Monday.",
        "",
        "From the archive: the 1994 storm closed the port.",
        ">From an old quote, kept as written.",
        "Officials said",
        "From Tuesday trains run hourly.",  # after a text line and no date: not a message separator
    ]
    assert plain.key.startswith("sha-") and plain.text == "A message without a Message-ID."


def test_bad_message_in_an_mbox_is_its_own_problem(tmp_path: Path) -> None:
    empty = EmailMessage()
    empty["From"] = "x@y.example"
    empty["Subject"] = "Empty"
    empty.set_content("   ")
    raw = mbox_of(newsletter().as_bytes(), empty.as_bytes(), newsletter("<other@news.example>").as_bytes())
    items = list(parse_mbox(tmp_path / "inbox.mbox", raw, FIELDS))
    assert [d.key for d in documents(items)] == ["brief-0611@news.example", "other@news.example"]
    assert reasons(items) == ["message 2: message has no text"]


# --- .mhtml saved pages --------------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html lang="sv"><head><meta charset="utf-8">
<title>Riksdagen röstade om budgeten</title>
<meta property="article:published_time" content="2025-06-12T10:15:00+02:00">
</head><body><nav><a href="/">Nyheter</a> <a href="/sport">Sport</a></nav>
<article><h1>Riksdagen röstade om budgeten</h1>
<p>Riksdagen röstade på torsdagen igenom regeringens budget för nästa år med knapp majoritet efter en lång debatt.</p>
<p>Oppositionen kritiserade sänkningen av bensinskatten och de minskade anslagen till kommunerna.</p>
<img src="https://www.svt.se/bild.png" alt="Riksdagen"></article></body></html>"""


def mhtml(page: str = PAGE) -> bytes:
    """A page as Chrome's "Save as: Webpage, single file" writes it."""
    boundary = "----MultipartBoundary--dJcSLK4Gq7uR1DkwCp3bqUuNhF2P5bFbO0ACNnljSn----"
    html = quopri.encodestring(page.encode("utf-8")).decode("ascii")
    png = base64.encodebytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode("ascii")
    return (
        "From: <Saved by Blink>\r\n"
        "Snapshot-Content-Location: https://www.svt.se/nyheter/inrikes/budgeten\r\n"
        "Subject: =?utf-8?Q?Riksdagen_r=C3=B6stade_om_budgeten?=\r\n"
        "Date: Thu, 12 Jun 2025 10:20:00 +0200\r\n"
        "MIME-Version: 1.0\r\n"
        f'Content-Type: multipart/related;\r\n\ttype="text/html";\r\n\tboundary="{boundary}"\r\n\r\n\r\n'
        f"--{boundary}\r\n"
        "Content-Type: text/html\r\n"
        "Content-ID: <frame-0A1B2C@mhtml.blink>\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "Content-Location: https://www.svt.se/nyheter/inrikes/budgeten\r\n\r\n"
        f"{html}\r\n"
        f"--{boundary}\r\n"
        "Content-Type: image/png\r\n"
        "Content-Transfer-Encoding: base64\r\n"
        "Content-Location: https://www.svt.se/bild.png\r\n\r\n"
        f"{png}\r\n"
        f"--{boundary}--\r\n"
    ).encode("ascii")


def test_mhtml_page_is_read_like_html_with_its_content_location(tmp_path: Path) -> None:
    raw = mhtml()
    assert b"=C3=B6" in raw  # the HTML part really is quoted-printable
    doc = document(parse_mhtml(tmp_path / "budget.mhtml", raw))
    assert (doc.kind, doc.raw) == ("html", raw)
    # Exactly what the page itself gives as .html (quoted-printable undone, UTF-8 read).
    page = document(parse_html(tmp_path / "budget.html", PAGE.encode()))
    assert doc.text == page.text and "Riksdagen röstade på torsdagen igenom regeringens budget" in doc.text
    assert "Nyheter" not in doc.text
    assert doc.meta["title"] == "Riksdagen röstade om budgeten"
    assert doc.meta["url"] == "https://www.svt.se/nyheter/inrikes/budgeten"
    assert doc.meta["published"] == "2025-06-12"
    assert clean_document(doc).source == "svt.se"


def test_mhtml_without_an_html_part_or_text_is_a_problem(tmp_path: Path) -> None:
    raw = mhtml().replace(b"Content-Type: text/html\r\n", b"Content-Type: text/css\r\n")
    assert problem(parse_mhtml(tmp_path / "a.mht", raw)) == "saved page (MHTML) has no HTML part"
    empty = mhtml("<html><body><nav><a href='/'>Home</a></nav></body></html>")
    assert problem(parse_mhtml(tmp_path / "b.mht", empty)) == "HTML has no article text (only navigation or markup)"


def test_block_text_one_block_per_line_without_scripts() -> None:
    html = "<div>Top<script>x()</script><p>One <b>two</b></p>tail<br>after<ul><li>a</li><li>b</li></ul></div>"
    assert block_text(html, 50) == "Top\nOne two\ntail\nafter\na\nb"
    assert block_text("   ", 50) == ""


def test_new_suffixes_are_supported() -> None:
    assert {".rss", ".atom", ".xml", ".eml", ".mbox", ".mhtml", ".mht"} <= SUPPORTED_SUFFIXES


# --- through a real ingest run ---------------------------------------------------------------------------------


@pytest.mark.usefixtures("rag_env")
def test_feed_items_are_indexed_and_an_unchanged_feed_is_a_no_op(
    tmp_path: Path, make_index: Callable[..., Any]
) -> None:
    news = tmp_path / "news"
    news.mkdir()
    (news / "kyiv.rss").write_bytes(rss(KHARKIV + ODESA + LVIV))
    msg = newsletter()
    msg.add_attachment(make_pdf([["Budget tables"]]), maintype="application", subtype="pdf", filename="budget.pdf")
    (news / "brief.eml").write_bytes(msg.as_bytes())
    idx = make_index(tmp_path / "idx")
    report = idx.ingest(news)
    feed_path = str((news / "kyiv.rss").resolve())
    odesa = f"{feed_path}#https://kyivindependent.com/?p=1002"
    assert not report.failed, report.summary()
    assert sorted(report.new) == sorted(
        [
            str((news / "brief.eml").resolve()),
            f"{feed_path}#ki-1001",
            odesa,
            f"{feed_path}#https://kyivindependent.com/lviv-shelters/",
        ]
    )
    hit = idx.search("grain ships Odesa insurers")[0].passage
    assert (hit.path, hit.title, hit.source, hit.published, hit.url) == (
        odesa,
        "Odesa port & grain corridor: shipments resume",
        "Kyiv Independent",
        "2025-06-09",
        "https://kyivindependent.com/odesa-grain/",
    )
    brief = idx.search("Parliament budget 176 votes pension cuts")[0].passage
    assert (brief.title, brief.source, brief.url) == (
        "Morning Brief: Parliament passes the budget",
        "The Morning Brief",
        "https://news.example/brief/2025-06-11",
    )

    again = idx.ingest(news)
    assert not again.changed and len(again.unchanged) == 4

    edited = ODESA.replace("two weeks", "three weeks")
    (news / "kyiv.rss").write_bytes(rss(KHARKIV + edited + LVIV).replace(b"09:00:00 GMT", b"11:00:00 GMT"))
    changed = idx.ingest(news)
    assert (changed.new, changed.updated, changed.removed) == ([], [odesa], [])
    assert len(changed.unchanged) == 3
    assert "three weeks" in idx.search("insurers paused cover Odesa")[0].passage.text
