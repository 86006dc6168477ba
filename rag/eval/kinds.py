"""`rag eval --sets kinds`: the four ways abstention and evidence choice can go wrong, one question file
(rag/eval/data/kinds_qa.jsonl), per kind:

- offtopic: a topic no article covers ("What was Ukraine's GDP growth in 2025?"): must abstain;
- crosslingual: what a speaker said, asked in another language than the article's: must answer from it;
- former_name: a place under a former name or another spelling (Artemivsk = Bakhmut, Kiev = Kyiv): the
  answer must be about that place, or abstain when no article says;
- broad: several articles answer ("What is happening in Myrnohrad?"): the answer should quote each.

Questions with corpus "seeds" are asked over seeds/ (the seeds_qa index); those with corpus "news" over one
small index of the RealTimeQA passages and PolNeAR articles they need plus distractors (NEWS_* below), built
once into .cache/eval. Outcomes: answered right (the text contains an answer and cites a listed source; a
broad question must cite at least two of them when it lists two), abstained right, wrong article
(answered, but not from a listed source or not with the answer, or answered an unanswerable one),
wrong-abstain.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rag.app.index import Index
from rag.config import Settings
from rag.eval import common
from rag.eval.common import ROOT, cached_index, format_table, mean, read_jsonl
from rag.types import Answer

QUESTIONS = Path(__file__).parent / "data" / "kinds_qa.jsonl"
KINDS = ("offtopic", "crosslingual", "former_name", "broad")

# RealTimeQA passages on Ukraine, Belarus and their leaders (every passage naming Kyiv, Kiev, Belarus,
# Lukashenko, Zelensky, Donetsk, Poltava, Macron or Lavrov), then 25 drawn at random (seed 12) as distractors.
# fmt: off
NEWS_REALTIMEQA = (
    "p6c08001e6889", "p3ff061814f99", "p19668c9f0f3f", "pbfdb99b71f0d", "p02bcfb200868", "pfd47087ffce5",
    "p8fb32396a9d7", "pfbede640ec2e", "p630ff282318d", "p7f31ce91535e", "p8ef0ea64db45", "pe304434300e2",
    "pf843bee4dba6", "p2bd4d398f1bf", "p9d7e11dd3f26", "p789778417c1b", "p8c2e28bec2b6", "p55d998b90122",
    "p25265431583d", "pb5f0e9a46dcb", "p47f71cc56095", "pdfe304eaf907", "p08962c65e91b", "p89150cd84651",
    "p753776b37669", "p8b014b7c672f", "p0b57b5167acf", "p65de5bb795d1", "pb57e49dda8e1", "p3d2e515f51cc",
    "p0a6cdd90b558", "pe146e5be06c5", "pf25a5d9c3385", "p0a8328d60f8f", "p9ce32f40f7f7", "pba5e943986fe",
    "p4fb52f6ba887", "p36f7e5ce72b0", "pd4adf6c48d9a", "p9268089b7caf", "pdbd993c175c7", "p0d2c6e996d3d",
    "pe5ae5de8ba9d", "pc48a3e4803bd", "p8aa0374898a6", "pdbc71c4e4308", "p665f55591033", "p6ac053f98995",
    "pf88edbdfa4c5", "p1442ad4679b8", "pb0141c5853fd", "p47d89c79c67d", "p561387cb8faf", "p48e31f880277",
    "pa0df82e153ab", "pb8dacd274285", "p915fcc437e95", "pcab70b417f56", "pedb575317db0",
    # distractors
    "p0b4b2c56311e", "pb3135a335364", "p3a92e10abc0f", "p04b63258a155", "p3af422a5fac6", "p6336b960a85c",
    "pf4905a180c00", "p44369096306e", "p7792b78a069b", "pb7a66ca98a9f", "p8eb493b3ec12", "p80099bd5c978",
    "p6efa7e37fa25", "p488948606903", "p826eb0c49e1d", "p2978e68b1e56", "p7f94770d19e2", "pa9ce488ad007",
    "p84397b108a28", "p92c6681548d3", "p7e02fb7c7918", "p464fdecd4d28", "pb8334894c3ec", "pbb780c1aec68",
    "p9e30b8b64d34",
)
# PolNeAR: every article naming Wells Fargo, then four drawn at random (seed 12).
NEWS_POLNEAR = (
    "huff-post_2016-09-20_elizabeth-warren-hammers-wells-f.txt",
    "nyt_2016-06-23_convention-cities-brace-for-prot.txt",
    "nyt_2016-10-14_shake-up-at-wells-fargo-fails-to.txt",
    "usa-today_2016-07-26_protesters-push-through-intense-.txt",
    "usa-today_2016-07-27_clinton-still-faces-a-spoiler-in.txt",
    "usa-today_2016-08-09_khans-trump-stirs-ugliness-musli.txt",
    "wash-post_2016-10-15_sen-warren-asks-obama-to-fire-se.txt",
    "west-journal_2016-06-20_major-companies-pull-support-for.txt",
    "usa-today_2016-10-18_companies-used-clinton-fundraise.txt",
    "wash-post_2016-09-18_e-u-leaders-weigh-plans-for-grea.txt",
    "nyt_2016-03-23_why-sanders-lags-on-black-vote-h.txt",
    "usa-today_2016-09-22_super-pac-haul-surges-past-b-sma.txt",
)
# fmt: on


def news_sources(data: Path) -> Path:
    """The news corpus as files to ingest (written under .cache/eval from ../shared/eval): one JSON Lines
    file of the RealTimeQA records, one text file per PolNeAR article."""
    folder = common.CACHE / "kinds-news-data"
    (folder / "polnear").mkdir(parents=True, exist_ok=True)
    wanted = set(NEWS_REALTIMEQA)
    records = [r for r in read_jsonl(data / "realtimeqa" / "passages.jsonl") if r["id"] in wanted]
    lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    _write_if_changed(folder / "realtimeqa.jsonl", lines)
    for name in NEWS_POLNEAR:
        _write_if_changed(folder / "polnear" / name, (data / "polnear" / "articles" / name).read_text(encoding="utf-8"))
    return folder


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def source_of(path: str) -> str:
    """What kinds_qa.jsonl calls an article: the file name, or the record id of an export ('FILE#ID')."""
    return path.rsplit("#", 1)[1] if "#" in path else Path(path).name


@dataclass
class KindResult:
    id: str
    corpus: str
    type: str
    outcome: str  # answered right, abstained right, wrong article, wrong-abstain
    cited: list[str]  # the sources the answer cites, in order
    listed_cited: int  # how many of them the question lists
    text: str


OUTCOMES = ("answered right", "abstained right", "wrong article", "wrong-abstain")


def score(q: dict[str, Any], a: Answer) -> KindResult:
    cited = list(dict.fromkeys(source_of(c.passage.path) for c in a.citations))
    listed = set(q["sources"])
    good = [s for s in cited if s in listed]
    if not q["answerable"]:
        outcome = "abstained right" if a.abstained else "wrong article"
    elif a.abstained:
        outcome = "wrong-abstain"
    else:
        has_answer = any(w.lower() in a.text.lower() for w in q["answers"])
        enough = min(2, len(listed)) if q["type"] == "broad" else 1
        outcome = "answered right" if has_answer and len(good) >= enough else "wrong article"
    return KindResult(q["id"], q["corpus"], q["type"], outcome, cited, len(good), a.text)


def summarise(results: list[KindResult]) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[KindResult]] = defaultdict(list)
    for r in results:
        groups[r.type].append(r)
        groups[f"{r.type} ({r.corpus})"].append(r)
        groups["all"].append(r)
    table: dict[str, dict[str, Any]] = {}
    for name, rs in groups.items():
        row: dict[str, Any] = {"n": len(rs)}
        row.update({o: sum(r.outcome == o for r in rs) for o in OUTCOMES})
        broad = [r for r in rs if r.type == "broad"]
        row["sources cited (broad)"] = mean([float(len(r.cited)) for r in broad])
        row["listed sources cited (broad)"] = mean([float(r.listed_cited) for r in broad])
        table[name] = row
    return table


def kinds_table(title: str, table: dict[str, dict[str, Any]]) -> str:
    order = [k for kind in KINDS for k in (kind, f"{kind} (seeds)", f"{kind} (news)") if k in table] + ["all"]
    heads = ["kind", "n", *OUTCOMES, "sources cited (broad)", "listed sources cited (broad)"]
    return format_table(title, heads, [[k, *(table[k][h] for h in heads[1:])] for k in order])


def indexes(data: Path, settings: Settings) -> dict[str, Index]:
    seeds = data.parent / "seeds" if (data.parent / "seeds").is_dir() else ROOT / "seeds"
    return {
        "seeds": cached_index("seeds", [seeds], settings),
        "news": cached_index("kinds-news", [news_sources(data)], settings),
    }


def eval_kinds(
    data: Path, backend: str = "extractive", settings: Settings | None = None
) -> tuple[list[KindResult], dict[str, dict[str, Any]]]:
    settings = settings or Settings()
    idx = indexes(data, settings)
    results = [score(q, idx[q["corpus"]].ask(q["question"], backend=backend)) for q in read_jsonl(QUESTIONS)]
    return results, summarise(results)


def as_json(results: list[KindResult]) -> list[dict[str, Any]]:
    return [asdict(r) for r in results]
