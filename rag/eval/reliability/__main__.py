"""`python -m rag.eval.reliability [--short] [--workdir DIR] [--out FILE.json] [--only hostile,kills,faults,load]`:
run the scenarios, print one Markdown table, exit 1 if any row is not ok."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from rag.eval.reliability.report import table
from rag.eval.reliability.suite import SCENARIOS, run_all


def _only(value: str) -> list[str]:
    names = [n.strip() for n in value.split(",") if n.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"choose from {','.join(SCENARIOS)} (got {value!r})")
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rag.eval.reliability", description=__doc__)
    parser.add_argument("--short", action="store_true", help="the short version `make test` runs")
    parser.add_argument("--workdir", type=Path, help="keep the files, indexes and logs here (default: a temp dir)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON")
    parser.add_argument("--only", type=_only, default=list(SCENARIOS), help=f"comma-separated: {','.join(SCENARIOS)}")
    args = parser.parse_args(argv)
    if args.workdir:
        args.workdir.mkdir(parents=True, exist_ok=True)
        rows = run_all(args.workdir.resolve(), args.short, args.only)
    else:
        with tempfile.TemporaryDirectory(prefix="rag-reliability-") as tmp:
            rows = run_all(Path(tmp), args.short, args.only)
    print(table(rows))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps([r.to_json() for r in rows], indent=2, ensure_ascii=False) + "\n")
    return 0 if all(r.ok for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
