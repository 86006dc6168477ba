"""A judge pass by the writing model: the borderline sentences of an answer, read once more by the model
that wrote them, each beside the quotes that support it.

The citation checker (rag.answer.judgement) keeps a sentence as `supported` when it is a close paraphrase of its
quoted spans without being stated word for word: the judgement most likely to be wrong. Those sentences go
to the same model in ONE batched call (`prompts/judge.md`): each numbered, with its quotes, "does the quote
state this? yes / partly / no", one line per sentence.

The reply can only lower a sentence (the lowering rule, `lowered`):
- yes: unchanged (still `supported`, shown as a paraphrase);
- partly: removed (the sentence adds, changes or overstates something the quotes do not state: a partly
  faithful sentence is an unfaithful one);
- no: removed;
- no readable verdict: unchanged (the checker's verdict stands).
Only `supported` sentences are sent or changed: a `verified` sentence is never sent, a `removed` one (a
failed hard check included) is never raised, whatever the reply says.

Parsing (`parse_verdicts`) is lenient about form and strict about meaning. A verdict line is a number,
then the verdict as the first word after it: "1: yes", "2. No", "**3** - partly", "Sentence 4: no, the
quote ...", "[5] yes"; "Yes" alone on a line is a bare verdict. Other lines (preambles, explanations,
blank lines, a verdict that is not the first word) are ignored. When every number written is an item's
(1 to n), verdicts go by number: an item missing from the reply, or given two different verdicts, has
no readable verdict. Otherwise (no numbers, or numbers from another scheme: from 0, or continuing
another list) the verdicts are taken in order, but only when the reply holds exactly one verdict line
per item. Anything else leaves a sentence without a readable verdict, so a garbled reply keeps the
checker's verdicts.

A model error or timeout keeps the checker's verdicts too; `JudgePassResult.error` says what happened.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from rag.answer.judgement import Judgement
from rag.answer.prompts import render

if TYPE_CHECKING:
    from llama_index.core.llms import LLM, ChatMessage

log = logging.getLogger(__name__)

JudgeVerdict = Literal["yes", "partly", "no"]
JUDGE_SETTINGS = ("auto", "on", "off")

_SYNONYMS: dict[str, JudgeVerdict] = {
    "yes": "yes",
    "partly": "partly",
    "partially": "partly",
    "partial": "partly",
    "no": "no",
}
_WORD = r"(yes|partly|partially|partial|no)\b(?!\s*/)"  # "yes/no" is not an answer
# "1: yes", "2. No", "**3** - partly", "Sentence 4: no, because", "[5] yes", "Item 6 = no".
_NUMBERED = re.compile(rf"^\W*(?:(?:sentence|item|number|no\.)\s*)?(\d{{1,3}})\b\W*{_WORD}", re.IGNORECASE)
# "yes", "- No.", "**partly**": a verdict alone on its line.
_BARE = re.compile(rf"^\W*{_WORD}\W*$", re.IGNORECASE)
# Text of an item cannot open or close the tags that frame it.
_TAG = re.compile(r"<(/?)(item|sentence|quote)", re.IGNORECASE)

REASONS: dict[JudgeVerdict, str] = {
    "partly": "the writing model's judge pass: the quotes state only part of it",
    "no": "the writing model's judge pass: the quotes do not state it",
}


def _content(text: str) -> str:
    return _TAG.sub(r"&lt;\1\2", " ".join(text.split()))


def format_items(judgements: Sequence[Judgement]) -> str:
    """The numbered items of the prompt: each sentence with the quoted spans the checker found for it."""
    blocks = []
    for n, j in enumerate(judgements, start=1):
        quotes = "\n".join(f"<quote>{_content(q.text)}</quote>" for q in j.quotes)
        blocks.append(f'<item n="{n}">\n<sentence>{_content(j.sentence)}</sentence>\n{quotes}\n</item>')
    return "\n\n".join(blocks)


def judge_messages(judgements: Sequence[Judgement]) -> list[ChatMessage]:
    """The one user message of the judge call (prompts/judge.md)."""
    from llama_index.core.llms import ChatMessage, MessageRole

    prompt = render("judge", items=format_items(judgements), count=len(judgements))
    return [ChatMessage(role=MessageRole.USER, content=prompt)]


def parse_verdicts(reply: str, count: int) -> dict[int, JudgeVerdict]:
    """The readable verdicts of a judge reply, by item number (1 to `count`); an item left out has none."""
    numbered: dict[int, set[JudgeVerdict]] = {}
    in_order: list[JudgeVerdict] = []  # every verdict line, numbered or bare, as written
    for line in reply.splitlines():
        m = _NUMBERED.match(line)
        if m:
            verdict = _SYNONYMS[m.group(2).lower()]
            numbered.setdefault(int(m.group(1)), set()).add(verdict)
        elif bare := _BARE.match(line):
            verdict = _SYNONYMS[bare.group(1).lower()]
        else:
            continue
        in_order.append(verdict)
    if numbered and all(1 <= n <= count for n in numbered):  # the items' own numbers
        return {n: next(iter(v)) for n, v in sorted(numbered.items()) if len(v) == 1}
    if len(in_order) == count:  # unnumbered, or numbered in another scheme (from 0, say): one per item
        return dict(enumerate(in_order, start=1))
    return {}


def lowered(judgement: Judgement, verdict: JudgeVerdict | None) -> Judgement:
    """The judgement after the judge's verdict: only a `supported` one changes, and only downwards."""
    if verdict is None or verdict == "yes" or not judgement.borderline:
        return judgement
    return judgement.lowered("removed", REASONS[verdict])


@dataclass(frozen=True)
class JudgePassResult:
    judgements: tuple[Judgement, ...]  # in the order given, lowered where the judge said so
    asked: int = 0  # sentences sent to the judge (the borderline ones)
    lowered: int = 0  # of those, removed by its verdict
    unreadable: int = 0  # of those, without a readable verdict (their verdicts stand)
    seconds: float = 0.0  # time of the judge call (0 when nothing was sent)
    error: str = ""  # the model's error, when the call failed (every verdict stands)
    reply: str = ""
    verdicts: dict[int, JudgeVerdict] = field(default_factory=dict)  # by item number, 1-based

    @property
    def note(self) -> str:
        """What went wrong, for the answer ('' when the judge read every sentence)."""
        if self.error:
            return f"the judge pass failed ({self.error}); the citation checker's verdicts stand"
        if self.unreadable:
            sentences = "sentence" if self.asked == 1 else "sentences"
            return (
                f"the judge pass gave no readable verdict for {self.unreadable} of {self.asked} {sentences}; "
                "the citation checker's verdicts stand"
            )
        return ""


def judge_pass(llm: LLM, judgements: Sequence[Judgement]) -> JudgePassResult:
    """Ask `llm` once about every borderline judgement; the others are neither sent nor changed."""
    asked = [i for i, j in enumerate(judgements) if j.borderline]
    if not asked:
        return JudgePassResult(tuple(judgements))
    started = time.perf_counter()
    try:
        response = llm.chat(judge_messages([judgements[i] for i in asked]))
        reply = response.message.content or ""
    except Exception as e:  # HTTP errors, timeouts, a model that fails: the answer stands without the judge
        seconds = time.perf_counter() - started
        error = f"{type(e).__name__}: {e}"[:200]
        log.warning("judge pass failed after %.2f s: %s", seconds, error)
        return JudgePassResult(tuple(judgements), asked=len(asked), unreadable=len(asked), seconds=seconds, error=error)
    seconds = time.perf_counter() - started
    verdicts = parse_verdicts(reply, len(asked))
    out = list(judgements)
    for n, i in enumerate(asked, start=1):
        out[i] = lowered(judgements[i], verdicts.get(n))
    return JudgePassResult(
        tuple(out),
        asked=len(asked),
        lowered=sum(1 for i in asked if not out[i].kept),
        unreadable=sum(1 for n in range(1, len(asked) + 1) if n not in verdicts),
        seconds=seconds,
        reply=reply,
        verdicts=verdicts,
    )


def is_ollama(llm: LLM) -> bool:
    """Is `llm` llama-index's Ollama client (the ollama backend, or one passed in)?"""
    try:
        from llama_index.llms.ollama import Ollama
    except ImportError:
        return False
    return isinstance(llm, Ollama)


def judge_pass_enabled(setting: str, backend: str, llm: LLM | None) -> bool:
    """`llm.judge_pass`: 'on' for any model that writes, 'off', or 'auto': on when the writer is a served
    model, Ollama's or an OpenAI-compatible server's (the bundled tiny GGUF model misjudges more than it
    catches, and extractive writes nothing)."""
    if setting not in JUDGE_SETTINGS:
        raise ValueError(f"judge_pass must be one of {', '.join(JUDGE_SETTINGS)}, not {setting!r}")
    if backend == "extractive" or llm is None or setting == "off":
        return False
    return setting == "on" or backend in ("ollama", "openai") or is_ollama(llm)
