"""Fact-check a text: every sentence judged against the archive (or given passages), with its quotes.

A journalist pastes a draft, a press release or another tool's answer; each sentence comes back
`verified` (a quote states it), `supported` (a faithful paraphrase of the quoted spans) or `removed`
(a hard check failed or too little of it is in the passages), with the quotes behind the verdict.
The judgement itself is rag.answer.judgement's, the same one citation checking uses.

>>> from rag.answer.check import check_against                                       # doctest: +SKIP
>>> check_against("Kyiv said 40 trucks wait.", [{"id": "p1", "text": "..."}])  # doctest: +SKIP
>>> idx.check("Only 1,600 residents remain in Toretsk.")                       # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal

from rag.answer.judgement import VERDICTS, Judgement, QuotedSpan, SupportJudge, Verdict
from rag.errors import BadQuestion
from rag.text.sentences import split_sentences
from rag.types import Passage

MAX_CHECK_CHARS = 100_000  # a long feature article is ~30,000; more is a dump, not a text to check
# The longest sentence judged: news sentences run to ~300 characters; one of 2,000 is a text without
# full stops (a table, a transcript), whose "verdict" would say nothing about any of its claims.
MAX_SENTENCE_CHARS = 2_000
# UTF-8 needs at most 4 bytes a character: reading more than this can only end in "too long".
MAX_CHECK_BYTES = 4 * MAX_CHECK_CHARS + 4
# Control characters (Unicode category Cc) other than whitespace, and unpaired surrogates (only reachable
# from str: UTF-8 decoding never yields one, but json.loads and surrogateescape do).
_UNUSABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff]")
_HAS_WORD = re.compile(r"[^\W_]")

VERDICT_LABELS = {"verified": "verified", "supported": "supported (paraphrase)", "removed": "removed"}


class BadCheckInput(BadQuestion):
    """A text to check, or a passages file, that cannot be used: empty, binary, too long, malformed."""


# --- input ------------------------------------------------------------------------------------------
def text_problem(text: str) -> str | None:
    """Why `text` is not plain text (a NUL, another control character, an unpaired surrogate), or None."""
    m = _UNUSABLE.search(text)
    if m is None:
        return None
    code, at = ord(m.group()), m.start()
    if code == 0:
        return f"it looks binary (a NUL character at character {at:,})"
    if 0xD800 <= code <= 0xDFFF:
        return f"it has an unpaired surrogate U+{code:04X} at character {at:,}"
    return f"it has a control character U+{code:04X} at character {at:,}"


def validate_text(text: str, what: str = "the text") -> str:
    """`text` stripped, or BadCheckInput saying why it cannot be checked."""
    if not isinstance(text, str):
        raise BadCheckInput(f"{what} must be a string, not {type(text).__name__}")
    if len(text) > MAX_CHECK_CHARS:
        raise BadCheckInput(f"{what} has {len(text):,} characters; the limit is {MAX_CHECK_CHARS:,}")
    problem = text_problem(text)
    if problem:
        raise BadCheckInput(f"{what} cannot be checked: {problem}")
    text = text.strip()
    if not text:
        raise BadCheckInput(f"{what} is empty")
    if not _HAS_WORD.search(text):
        raise BadCheckInput(f"{what} has no words, only punctuation or symbols")
    return text


def decode_text(data: bytes, what: str = "the text") -> str:
    """UTF-8 bytes (a BOM allowed) as text; binary or undecodable bytes are a BadCheckInput."""
    if len(data) > MAX_CHECK_BYTES:
        raise BadCheckInput(f"{what} has more than {MAX_CHECK_CHARS:,} characters (the limit)")
    nul = data.find(b"\0")
    if nul >= 0:
        raise BadCheckInput(f"{what} looks binary (a NUL byte at byte {nul:,}), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadCheckInput(f"{what} is not UTF-8 text (byte 0x{data[e.start]:02x} at byte {e.start:,})") from e


def read_text(source: str | Path | BinaryIO, what: str | None = None) -> str:
    """The text of a file, or of a binary stream such as stdin, decoded and validated."""
    if isinstance(source, (str, Path)):
        what = what or str(source)
        try:
            with Path(source).open("rb") as f:
                data = f.read(MAX_CHECK_BYTES + 1)
        except OSError as e:
            raise BadCheckInput(f"cannot read {what}: {e.strerror or e}") from e
    else:
        what = what or "the text"
        data = source.read(MAX_CHECK_BYTES + 1)
    return validate_text(decode_text(data, what), what)


def sentences_of(text: str) -> list[str]:
    """The sentences to judge: the text's sentences (rag.ingest.chunk), those without a word left out.
    A sentence longer than MAX_SENTENCE_CHARS is a BadCheckInput naming where it starts."""
    out: list[str] = []
    for sp in split_sentences(text):
        sentence = text[sp.start : sp.end]
        if len(sentence) > MAX_SENTENCE_CHARS:
            raise BadCheckInput(
                f"sentence {len(out) + 1} (at character {sp.start:,}) has {len(sentence):,} characters; a sentence "
                f"to check has at most {MAX_SENTENCE_CHARS:,}: add the full stops the text is missing"
            )
        if _HAS_WORD.search(sentence):
            out.append(sentence)
    return out


def as_passages(passages: Iterable[Passage | Mapping[str, Any]]) -> list[Passage]:
    """`Passage`s as they are; dicts `{"id", "text"}` as passages of their own (offsets into their text)."""
    out: list[Passage] = []
    for i, p in enumerate(passages):
        if isinstance(p, Passage):
            out.append(p)
            continue
        if not isinstance(p, Mapping):
            raise BadCheckInput(f"passage {i + 1}: expected a Passage or a dict with 'id' and 'text'")
        out.append(_passage_from(p, f"passage {i + 1}"))
    return out


def _passage_from(record: Mapping[str, Any], where: str) -> Passage:
    pid, text = record.get("id"), record.get("text")
    if isinstance(pid, bool) or not isinstance(pid, (str, int)) or str(pid) == "":
        raise BadCheckInput(f"{where}: 'id' must be a non-empty string or an integer")
    if not isinstance(text, str) or not text.strip():
        raise BadCheckInput(f"{where}: 'text' must be a non-empty string")
    problem = text_problem(text)
    if problem:
        raise BadCheckInput(f"{where}: the text cannot be used: {problem}")
    return Passage(id=str(pid), article_id=str(pid), text=text, start=0, end=len(text), path=str(pid))


def read_passages(path: str | Path) -> list[Passage]:
    """Passages from a JSON Lines file, one `{"id": ..., "text": ...}` a line (blank lines skipped).
    A malformed line is a BadCheckInput naming the file and the line."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise BadCheckInput(f"cannot read {path}: {e.strerror or e}") from e
    try:
        # Split on newlines only: str.splitlines() would also cut at U+2028 and others, which JSON allows
        # raw inside strings.
        lines = raw.decode("utf-8-sig").split("\n")
    except UnicodeDecodeError as e:
        bad_line = raw[: e.start].count(b"\n") + 1
        raise BadCheckInput(f"{path} line {bad_line}: not UTF-8 text") from e
    passages: list[Passage] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise BadCheckInput(f"{where}: not JSON ({e.msg} at column {e.colno})") from e
        if not isinstance(record, dict):
            raise BadCheckInput(f'{where}: expected an object {{"id": ..., "text": ...}}')
        passage = _passage_from(record, where)
        if passage.id in seen:
            raise BadCheckInput(f"{where}: the id {passage.id!r} is used twice")
        seen.add(passage.id)
        passages.append(passage)
    if not passages:
        raise BadCheckInput(f"{path} holds no passages (expected one JSON object a line)")
    return passages


# --- checking -----------------------------------------------------------------------------------------
def check_against(text: str, passages: Sequence[Passage | Mapping[str, Any]]) -> list[Judgement]:
    """Each sentence of `text` judged against all of `passages` (no index needed). A quote's
    `passage` is its position in `passages`; its offsets are the passage's (a dict's start at 0)."""
    text = validate_text(text)
    given = as_passages(passages)
    if not given:
        raise BadCheckInput("there are no passages to check the text against")
    judge = SupportJudge(given)
    cache: dict[str, Judgement] = {}  # a text repeating a sentence is judged once
    sentences = sentences_of(text)
    for sentence in sentences:
        if sentence not in cache:
            cache[sentence] = judge.judge(sentence)
    return [cache[s] for s in sentences]


@dataclass(frozen=True)
class CheckedSentence:
    """One sentence's judgement with the passages it was judged against (what `QuotedSpan.passage` indexes)."""

    judgement: Judgement
    passages: tuple[Passage, ...]

    @property
    def sentence(self) -> str:
        return self.judgement.sentence

    @property
    def verdict(self) -> Verdict:
        return self.judgement.verdict

    def quoted(self) -> list[tuple[Passage, QuotedSpan]]:
        """Each quote with its passage: `passage.path` and the quote's article offsets locate it."""
        return [(self.passages[q.passage], q) for q in self.judgement.quotes if 0 <= q.passage < len(self.passages)]

    def to_json(self, by: Literal["id", "path"] = "path") -> dict[str, Any]:
        """The stable shape of `rag check --json`; quotes name their passage by `id` or article `path`."""
        out = self.judgement.to_json()
        out["quotes"] = [
            {by: p.id if by == "id" else p.path, "start": q.start, "end": q.end, "text": q.text}
            for p, q in self.quoted()
        ]
        return out


def check_text(text: str, passages: Sequence[Passage | Mapping[str, Any]]) -> list[CheckedSentence]:
    """`check_against`, each judgement paired with the passages, so its quotes resolve to them."""
    given = tuple(as_passages(passages))
    return [CheckedSentence(j, given) for j in check_against(text, given)]


def count_line(results: Sequence[CheckedSentence | Judgement]) -> str:
    """The closing line: "5 sentences: 3 verified, 1 supported (paraphrase), 1 removed"."""
    verdicts = [r.verdict for r in results]
    counts = ", ".join(f"{verdicts.count(v)} {VERDICT_LABELS[v]}" for v in VERDICTS)
    return f"{len(verdicts)} sentence{'' if len(verdicts) == 1 else 's'}: {counts}"
