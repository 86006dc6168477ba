"""`rag` command line: ingest, ask, check, serve, status, eval, bench. Errors print as one line, exit code 2."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rag.config import BACKEND_NAMES
from rag.errors import AnswerInterrupted, RagError
from rag.search.filters import Filters
from rag.types import Answer

if TYPE_CHECKING:
    from rag.answer.check import CheckedSentence

BACKENDS = list(BACKEND_NAMES)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--index",
        default=os.environ.get("RAG_INDEX", "index"),
        help="index folder (default: $RAG_INDEX or ./index)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Cited question answering over news articles, offline.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "ingest",
        help="add articles (.txt .md .html .pdf .docx .json .jsonl, feeds .rss .atom .xml, e-mail .eml .mbox, "
        "saved pages .mhtml .mht; files or folders) to the index",
    )
    _common(p)
    p.add_argument("paths", nargs="+", help="files or folders (folders are read recursively); '-' reads stdin")
    p.add_argument("--include", action="append", default=[], metavar="GLOB", help="only files matching (repeatable)")
    p.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="skip files matching (repeatable)")
    p.add_argument("--prune", action="store_true", help="also remove articles whose files are gone")
    p.add_argument(
        "--follow-links",
        action="store_true",
        help="read symbolic links whose target is outside the folder (skipped with a note otherwise)",
    )
    p.add_argument(
        "--stdin-name", default=None, help="name for text read from '-' (default: a hash; its suffix sets the format)"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("remove", help="remove articles by file, folder, FILE#KEY location or article id")
    _common(p)
    p.add_argument("targets", nargs="+")

    p = sub.add_parser("ask", help="answer one question with cited sources")
    _common(p)
    p.add_argument("question")
    p.add_argument("--backend", choices=BACKENDS, help="answer backend (default: settings, 'auto')")
    p.add_argument("--top-k", type=int, help="passages to read (default: settings, 8)")
    p.add_argument("--json", action="store_true", help="print one JSON object (stable shape for scripts)")
    _filter_options(p)

    p = sub.add_parser("check", help="fact-check a text: each sentence's verdict and the quotes behind it")
    _common(p)
    p.add_argument("file", help="the text to check (UTF-8, at most 100,000 characters); '-' reads stdin")
    p.add_argument(
        "--against",
        metavar="PASSAGES.jsonl",
        help='check against these passages only, one {"id": ..., "text": ...} a line (no index needed)',
    )
    p.add_argument("--top-k", type=int, help="passages retrieved per sentence (default: settings, 8)")
    p.add_argument("--json", action="store_true", help="print one JSON list, an object per sentence (stable shape)")
    _filter_options(p)

    p = sub.add_parser("serve", help="chat UI in the browser")
    _common(p)
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument(
        "--auth",
        default=os.environ.get("RAG_AUTH"),
        help="ask for a login: USER:PASSWORD, or a file of USER:PASSWORD lines (default: $RAG_AUTH)",
    )
    p.add_argument(
        "--mcp",
        action="store_true",
        help="also serve search, ask and check as MCP tools for other assistants, at /gradio_api/mcp/ "
        "(same login; without one, 127.0.0.1 only)",
    )

    p = sub.add_parser("status", help="index counts, manifest, available backends")
    _common(p)
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("eval", help="quality figures on ../shared/eval (see `make eval`)")
    _common(p)
    p.add_argument("--data", default=None, help="eval folder (default: ../shared/eval)")
    p.add_argument("--backend", choices=BACKENDS, default="extractive")
    p.add_argument("--out", default=None, help="also write the results as JSON here")
    p.add_argument(
        "--sets",
        default="seeds,realtimeqa,polnear,faithbench",
        help="comma-separated: seeds, realtimeqa, polnear, faithbench (default: all)",
    )
    p.add_argument("--split", choices=["test", "dev"], default="test", help="question split (tune on dev)")
    p.add_argument("--limit", type=int, default=None, help="ask only the first N questions of each set")
    p.add_argument("--retrieval-only", action="store_true", help="retrieval metrics only (no answers)")
    p.add_argument(
        "--tune",
        action="store_true",
        help="print the fusion-settings grid on the dev splits (with --sets faithbench: fit the support score)",
    )

    p = sub.add_parser("bench", help="speed figures (see `make bench`)")
    _common(p)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--articles", type=int, default=100, help="PolNeAR articles to ingest (0: all 1,008)")
    p.add_argument("--records", type=int, default=500, help="RealTimeQA records to ingest (0: all 4,909)")
    p.add_argument("--latency-only", action="store_true", help="only retrieval latency at 5k and 50k passages")
    p.add_argument("--latency-queries", type=int, default=200, help="questions timed at each index size")
    return parser


def _filter_options(p: argparse.ArgumentParser) -> None:
    """The article filters `ask` and `check` share (read back by `_filters`)."""
    p.add_argument("--source", action="append", help="only articles from this outlet (part of its name; repeatable)")
    p.add_argument("--lang", action="append", help="only articles in this language (ISO 639-1: en, sv, uk; repeatable)")
    p.add_argument("--since", help="only articles published on or after this day (YYYY-MM-DD, YYYY-MM or YYYY)")
    p.add_argument("--until", help="only articles published on or before this day (YYYY-MM-DD, YYYY-MM or YYYY)")
    p.add_argument("--path", action="append", help="only articles from this file or folder (repeatable)")


def _filters(args: argparse.Namespace) -> Filters:
    return Filters.parse(args.source, args.lang, args.since, args.until, args.path)


def render_check(results: Sequence[CheckedSentence]) -> str:
    """Plain-text rendering of `rag check`: each sentence with its verdict (and why), then its quotes
    with file and character offsets, and a closing count line."""
    from rag.answer.check import VERDICT_LABELS, count_line

    lines: list[str] = []
    for i, r in enumerate(results, start=1):
        j = r.judgement
        head = f"{i}. {VERDICT_LABELS[j.verdict]} ({j.score:.2f}): {j.sentence}"
        lines.append(textwrap.fill(head, 100, subsequent_indent="   "))
        if j.reasons and j.verdict == "removed":
            why = "why: " + "; ".join(j.reasons)
            lines.append(textwrap.fill(why, 100, initial_indent="   ", subsequent_indent="        "))
        # A removed sentence's quotes are the closest the passages came, not support.
        label = "closest" if j.verdict == "removed" else "quote"
        for p, q in r.quoted():
            lines.append(f"   {label}: {p.path or p.id}, chars {q.start}-{q.end}")
            lines.append(textwrap.indent(textwrap.fill(f"\u201c{q.text}\u201d", 94), "       "))
    lines += ["", count_line(results)]
    return "\n".join(lines)


def render_answer(a: Answer, with_text: bool = True) -> str:
    """Plain-text rendering: the answer, then its numbered sources with their quotes."""
    lines = [a.text, ""] if with_text else [""]
    if a.abstained:
        lines.append("Closest passages:")
        for i, sp in enumerate(a.passages[:3], start=1):
            lines.append(f"  ({i}) {sp.passage.title} [{sp.passage.path}]")
            lines.append(textwrap.indent(textwrap.fill(sp.passage.text[:300] + "...", 96), "      "))
    for c in a.citations:
        p = c.passage
        meta = " | ".join(x for x in (p.source, p.published or "", p.path) if x)
        paraphrase = ", paraphrased" if c.verdict == "supported" else ""
        lines.append(f"[{c.n}] {p.title} ({meta}), chars {c.start}-{c.end}{paraphrase}")
        for start, end, text in c.quoted_spans:
            where = f"chars {start}-{end}: " if len(c.quoted_spans) > 1 else ""
            lines.append(textwrap.indent(textwrap.fill(f"{where}\u201c{text}\u201d", 96), "    "))
        for other in c.also_published_by:
            names = " | ".join(x for x in (other["source"], other["published"] or "", other["path"]) if x)
            lines.append(f"    also published: {names}")
    if a.source_note:
        lines.append(a.source_note)
    if a.language_note:
        lines.append(a.language_note)
    if a.removed_note:
        lines.append(a.removed_note)
        lines += [f"  removed: {r.sentence} ({'; '.join(r.reasons)})" for r in a.removed]
    if a.judge_note:
        lines.append(a.judge_note)
    note = f"answered by: {a.backend}"
    if a.fallback_reason:
        note += f" (fallback: {a.fallback_reason})"
    lines += ["", note]
    return "\n".join(lines)


def _open(args: argparse.Namespace, **settings: Any):  # type: ignore[no-untyped-def]
    import rag

    return rag.open(Path(args.index), **settings)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except RagError as e:
        if isinstance(e, AnswerInterrupted) and not getattr(args, "json", False):
            print(flush=True)  # the answer's first sentences are on stdout: the error gets a line of its own
        print(f"rag {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `rag status | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _run(args: argparse.Namespace) -> int:
    return _COMMANDS[args.command](args)


def _ingest(args: argparse.Namespace) -> int:
    """`rag ingest`: exit 1 when nothing at all could be used, so scripts notice an empty run."""
    paths = [p for p in args.paths if p != "-"]
    stdin = None
    if "-" in args.paths:
        data = sys.stdin.buffer.read()
        stdin = (args.stdin_name or f"{hashlib.sha256(data).hexdigest()[:12]}.txt", data)
    report = _open(args).ingest(
        *paths,
        progress=not args.quiet,
        include=args.include,
        exclude=args.exclude,
        prune=args.prune,
        stdin=stdin,
        follow_links=args.follow_links,
    )
    print(report.summary())
    usable = report.new or report.updated or report.unchanged or report.duplicates or report.removed
    return 1 if report.failed and not usable else 0


def _remove(args: argparse.Namespace) -> int:
    report = _open(args).remove(*args.targets)
    print(f"removed {len(report.removed)} in {report.seconds:.1f}s")
    for loc in report.removed:
        print(f"  removed: {loc}")
    for problem in report.failed:
        print(f"  not found: {problem}")
    return 1 if report.failed and not report.removed else 0


def _ask(args: argparse.Namespace) -> int:
    idx = _open(args)
    filters = _filters(args)
    if args.json:
        answer = idx.ask(args.question, backend=args.backend, top_k=args.top_k, filters=filters)
        print(json.dumps(answer.to_json(), ensure_ascii=False, indent=2))
        return 0
    stream = idx.ask_stream(args.question, backend=args.backend, top_k=args.top_k, filters=filters)
    for piece in stream:  # verified pieces, shown as they arrive; together they are the answer text
        print(piece, end="", flush=True)
    print()
    print(render_answer(stream.answer, with_text=False))
    return 0


def _serve(args: argparse.Namespace) -> int:
    from rag.app.ui import parse_auth, serve

    auth = parse_auth(args.auth)  # a bad value fails here, before the index is opened
    if args.mcp:
        from rag.app.mcp import require_login

        require_login(args.host, auth)  # MCP on another host without a login: refused, not warned about
    if auth is None and args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: serving on {args.host} without a login; set RAG_AUTH=user:password", file=sys.stderr)
    serve(_open(args), host=args.host, port=args.port, auth=auth, mcp=args.mcp)
    return 0


def _status(args: argparse.Namespace) -> int:
    status = _open(args).status()
    print(json.dumps(status, indent=2) if args.json else _render_status(status))
    return 0


def _eval(args: argparse.Namespace) -> int:
    from rag.eval import run_eval

    return run_eval(
        data=args.data,
        backend=args.backend,
        out=args.out,
        sets=tuple(s.strip() for s in args.sets.split(",") if s.strip()),
        split=args.split,
        limit=args.limit,
        answers=not args.retrieval_only,
        tune=args.tune,
    )


def _bench(args: argparse.Namespace) -> int:
    from rag.eval.bench import run_bench

    return run_bench(
        queries=args.queries,
        articles=args.articles,
        records=args.records,
        ingest=not args.latency_only,
        scale_queries=args.latency_queries,
    )


def _check(args: argparse.Namespace) -> int:
    """`rag check FILE|-`: against --against passages (quotes named by id), or the index (by path)."""
    from rag.answer.check import BadCheckInput, check_text, read_passages, read_text

    text = read_text(sys.stdin.buffer, "stdin") if args.file == "-" else read_text(args.file)
    filters = _filters(args)
    by: Literal["id", "path"] = "id" if args.against else "path"
    if args.against:
        if filters:
            raise BadCheckInput("--source, --lang, --since, --until and --path filter the index; not with --against")
        results = check_text(text, read_passages(args.against))
    else:
        results = _open(args).check(text, filters=filters, top_k=args.top_k)
    if args.json:
        print(json.dumps([r.to_json(by) for r in results], ensure_ascii=False, indent=2))
    else:
        print(render_check(results))
    return 0


def _embedder_lines(e: dict[str, Any]) -> list[str]:
    """Which embedder the index uses and which is configured, then the Ollama embedding option."""
    if not e:
        return []
    built, configured = e.get("index"), e.get("configured")
    if built is None:
        lines = [f"embedder: {configured} (configured; the first ingest records it in the index)"]
    elif built == configured:
        lines = [f"embedder: {built} (the index is built with it, and it is the one configured)"]
    else:
        lines = [f"embedder: the index is built with {built}; configured: {configured}"]
    ollama = e.get("ollama")
    if ollama:
        lines.append(f"  ollama embeddings {'yes' if ollama['available'] else 'no ':<4} {ollama['detail']}")
    return lines


def _render_status(s: dict[str, Any]) -> str:
    m = s["manifest"]
    lines = [
        f"index:    {s['index']}",
        f"chroma:   {s['chroma']}",
        f"articles: {m.get('articles', 0)}   passages: {s['passages']}   revision: {m.get('revision', 0)}",
        "inputs:   {} files, {} identical copies, {} near-duplicates (stored once)".format(
            s["ledger"].get("files", 0), s["ledger"].get("inputs_copy", 0), s["ledger"].get("inputs_near", 0)
        ),
        f"built with: {json.dumps(m.get('identity', {}))}",
        *_embedder_lines(s.get("embedder") or {}),
        f"default backend: {s['default_backend']} (auto → {s.get('auto_backend', '?')})",
        "backends:",
    ]
    for name, b in s["backends"].items():
        lines.append(f"  {name:<10} {'yes' if b['available'] else 'no ':<4} {b['detail']}")
    return "\n".join(lines)


_COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "ingest": _ingest,
    "remove": _remove,
    "ask": _ask,
    "check": _check,
    "serve": _serve,
    "status": _status,
    "eval": _eval,
    "bench": _bench,
}


if __name__ == "__main__":
    sys.exit(main())
