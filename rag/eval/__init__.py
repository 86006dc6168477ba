"""`make eval` / `rag eval`: quality tables on ../shared/eval, one per set (eval/README.md defines them).

- seeds: seeds_qa.jsonl over the five seed articles, per question type;
- realtimeqa: news quiz questions over 4,909 passages (Recall@1/5/10, MRR@10, answer contains);
- polnear: "who said that ...?" over 1,008 articles (article Recall@5, speaker accuracy);
- kinds: rag/eval/data/kinds_qa.jsonl, abstention and evidence choice per kind (off-topic, cross-lingual,
  former place names, broad questions) over seeds/ and a small RealTimeQA + PolNeAR index (only with
  `--sets kinds`);
- faithbench: real LLM summaries with human-marked hallucinations, each sentence through the citation
  checker (kept / removed by label, per writer; summary-level balanced accuracy beside stored detectors).

Each set is indexed once into `.cache/eval/<set>-<hash of data and index settings>` and reused. `--split
dev` is for tuning; `--tune` prints the fusion grid on the dev splits. Results also go to JSON (`--out`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rag.config import Settings
from rag.eval.common import DEFAULT_DATA, ROOT, write_json

__all__ = ["DEFAULT_DATA", "ROOT", "SETS", "run_eval"]

SETS = ("seeds", "realtimeqa", "polnear", "faithbench")


def run_eval(
    data: str | None = None,
    backend: str = "extractive",
    out: str | None = None,
    sets: tuple[str, ...] = SETS,
    split: str = "test",
    limit: int | None = None,
    answers: bool = True,
    tune: bool = False,
    settings: Settings | None = None,
) -> int:
    """Print one table per set; returns the exit code (2 when the data is missing)."""
    folder = Path(data) if data else DEFAULT_DATA
    if not (folder / "seeds_qa.jsonl").exists():
        print(f"no eval data at {folder} (expected seeds_qa.jsonl): pass --data")
        return 2
    settings = settings or Settings()
    if tune and sets == ("faithbench",):
        from rag.eval import faithbench

        write_json(ROOT / ".cache" / "eval-faithbench-tuning.json", faithbench.tune(folder))
        return 0
    if tune:
        return _tune(folder, sets, settings)
    results: dict[str, Any] = {"backend": backend, "split": split, "settings": settings.model_dump(mode="json")}
    for name in sets:
        t0 = time.perf_counter()
        if name == "seeds":
            from rag.eval.seeds import eval_seeds, model_sentences_report, seeds_table

            rows, table = eval_seeds(folder, backend, settings)
            print(seeds_table(f"seeds_qa ({len(rows)} questions), backend={backend}", table), flush=True)
            if report := model_sentences_report(rows, backend):
                print(report, flush=True)
            results["seeds"] = {"table": table, "questions": [r.__dict__ for r in rows]}
        elif name == "realtimeqa":
            from rag.eval import realtimeqa

            rtqa_rows, table = realtimeqa.eval_realtimeqa(folder, split, backend, settings, answers, limit)
            title = f"RealTimeQA {split} ({len(rtqa_rows)} questions), backend={backend}"
            print(realtimeqa.rtqa_table(title, table), flush=True)
            results["realtimeqa"] = {"table": table, "questions": realtimeqa.as_json(rtqa_rows)}
        elif name == "polnear":
            from rag.eval import polnear

            pn_rows, table = polnear.eval_polnear(folder, split, backend, settings, answers, limit)
            title = f"PolNeAR who_said {split} ({len(pn_rows)} questions), backend={backend}"
            print(polnear.polnear_table(title, table), flush=True)
            from rag.eval.attribution import attribution_table, eval_attribution

            # The extractor on the annotated articles directly: dev (tuned on) and the reported split.
            extractor = {sp: eval_attribution(folder, sp) for sp in dict.fromkeys(("dev", split))}
            print(attribution_table("PolNeAR attribution extractor, (speaker, content) pairs", extractor), flush=True)
            results["polnear"] = {"table": table, "extractor": extractor, "questions": polnear.as_json(pn_rows)}
        elif name == "faithbench":
            from rag.eval import faithbench

            if not faithbench.path_of(folder).exists():
                print(f"FaithBench: no {faithbench.path_of(folder)}, skipped", flush=True)
                continue
            results["faithbench"] = faithbench.eval_faithbench(folder, split)
            faithbench.print_tables(results["faithbench"])
        elif name == "kinds":
            from rag.eval import kinds

            k_rows, table = kinds.eval_kinds(folder, backend, settings)
            print(kinds.kinds_table(f"kinds_qa ({len(k_rows)} questions), backend={backend}", table), flush=True)
            results["kinds"] = {"table": table, "questions": kinds.as_json(k_rows)}
        else:
            print(f"unknown evaluation set {name!r}: choose from {', '.join(SETS)}")
            return 2
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
    if out:
        write_json(out, results)
    return 0


def _tune(folder: Path, sets: tuple[str, ...], settings: Settings) -> int:
    from rag.eval import polnear, realtimeqa, tuning

    titles = {"realtimeqa": "RealTimeQA dev", "polnear": "PolNeAR who_said dev"}
    loaders = {"realtimeqa": realtimeqa.load, "polnear": polnear.load}
    results: dict[str, Any] = {}
    for name in (n for n in loaders if n in sets):
        idx, qs, gold_of = loaders[name](folder, settings, "dev")
        pairs = [(q["question"], gold) for q in qs if (gold := gold_of(q))]
        rows = tuning.grid_by_stop_list(idx, pairs)
        print(tuning.tuning_table(f"{titles[name]} ({len(qs)} questions): fusion settings", rows), flush=True)
        results[name] = rows
    write_json(ROOT / ".cache" / "eval-tuning.json", results)
    return 0
