"""`Index`: the one object that wires embedder, store, retriever and answer step. The CLI, the UI, the
Python API and the tests all go through it."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer.check import CheckedSentence, sentences_of, text_problem, validate_text
from rag.answer.compose import abstention, extractive_answer, generate_verified, passages_for_model, source_note
from rag.answer.evidence import rank_evidence, unknown_terms
from rag.answer.judge_pass import judge_pass_enabled
from rag.answer.judgement import SupportJudge
from rag.answer.llm import auto_choice, backend_statuses, make_llm, resolve_backend
from rag.answer.who import claims_behind, who_answer, who_question_in
from rag.app.chat import Chat
from rag.app.stream import AnswerStream
from rag.config import Settings
from rag.errors import BadQuestion, EmbedderUnavailable, IndexWriteFailed, NoArticles, RagError, StoreUnavailable
from rag.faults import WRITES, Doing, Place, backend_fault, translated
from rag.ingest.indexer import ingest_paths, is_stale, ledger_path, recover, remove, writer_lock
from rag.ingest.ledger import Location, existing_ledger
from rag.search.filters import Filters
from rag.search.retrieve import HybridRetriever
from rag.store.chroma import Store
from rag.store.embed import Embedder, LazyEmbedder
from rag.store.ollama_embed import ollama_embed_status
from rag.text.languages import language_note
from rag.types import Answer, Citation, IngestReport, Passage, ScoredPassage

if TYPE_CHECKING:  # llama-index loads only when a model backend is made
    from llama_index.core.llms import LLM


class Index:
    """An article index you can ingest into and ask questions of.

    >>> import rag                                                   # doctest: +SKIP
    >>> idx = rag.open("index")                                      # doctest: +SKIP
    >>> idx.ingest("seeds").summary()                                # doctest: +SKIP
    '5 new, 0 updated, 0 unchanged, 0 failed; ...'
    >>> a = idx.ask("who claims Pokrovsk has fallen?", backend="extractive")   # doctest: +SKIP
    >>> a.text, a.citations[0].quote, a.citations[0].passage.path    # doctest: +SKIP
    """

    def __init__(self, settings: Settings, embedder: Embedder | None = None, language_model: LLM | None = None) -> None:
        self.settings = settings
        self.embedder = embedder or LazyEmbedder(settings.embed.model, settings.embed.threads, settings.embed)
        self.store = Store(settings, self.embedder.name)
        self.retriever = HybridRetriever(self.store, self.embedder, settings.retrieve)
        self._injected_llm = language_model
        self._llms: dict[str, LLM] = {}
        self._allowed_cache: dict[tuple[Filters, str], set[str] | None] = {}
        self._stale_store = False  # a storage fault happened: a fresh Chroma client before the next write
        try:
            with translated(Place.of(settings), "open"):
                self._finish_interrupted_ingest()
        except IndexWriteFailed:
            self.store.abandon()  # a later open of this folder in this process must not inherit a stuck client
            raise

    @contextmanager
    def _storage(self, doing: Doing) -> Iterator[None]:
        """Storage faults (full disk, read-only folder, Chroma server gone) leave as one line. After one,
        the next write (on a Chroma server: the next use) gets a fresh Chroma client first: the embedded
        one can hang on its next write (`Store.abandon`). It keeps serving reads meanwhile; a fresh one
        could not while the disk is still full."""
        if self._stale_store and (doing in WRITES or self.settings.chroma_url is not None):
            with translated(Place.of(self.settings), doing):
                self.store.reconnect()
            self._stale_store = False
        try:
            with translated(Place.of(self.settings), doing):
                yield
        except (IndexWriteFailed, StoreUnavailable):
            self.store.abandon()
            self._stale_store = True
            raise

    def _finish_interrupted_ingest(self) -> None:
        """An ingest killed half-way leaves unfinished articles listed in the ledger: delete them now
        (unless that ingest is still running), so questions never see a half-written article."""
        with existing_ledger(ledger_path(self.settings)) as ledger:
            # A run killed inside its final commit leaves nothing unfinished, but a manifest (or keyword
            # index) that does not match the collection: "no articles" while Chroma holds them all.
            if ledger is None or not (ledger.unfinished() or ledger.relabels() or is_stale(self.store)):
                return
            try:
                with writer_lock(self.settings):
                    if recover(self.store, ledger) or is_stale(self.store):
                        self.store.commit()
            except RagError:
                pass  # an ingest is running: it finishes (or recovers) its own work

    # --- ingest ---------------------------------------------------------------------------------
    def ingest(
        self,
        *paths: str | Path,
        progress: bool = False,
        include: Sequence[str] = (),
        exclude: Sequence[str] = (),
        prune: bool = False,
        stdin: tuple[str, bytes] | None = None,
        follow_links: bool = False,
    ) -> IngestReport:
        """Add the articles in files and folders (recursive); returns what happened to each input.

        `include`/`exclude`: glob patterns on paths inside the folders (e.g. "*.html", "drafts/*").
        `prune`: also remove articles whose files are gone. `stdin`: (name, bytes) of piped-in text.
        `follow_links`: read symbolic links whose target lies outside the folder (skipped otherwise).
        Raises DiskFull, IndexReadOnly or StoreUnavailable (one line each) when storing fails, and
        EmbedderUnavailable when the embedder cannot embed (its Ollama server is down, say): what was
        stored before is kept, and running the same ingest again finishes it.
        """
        try:
            with self._storage("ingest"):
                return ingest_paths(
                    paths,
                    self.store,
                    self.embedder,
                    self.settings,
                    progress=progress,
                    include=include,
                    exclude=exclude,
                    prune=prune,
                    stdin=stdin,
                    follow_links=follow_links,
                )
        except EmbedderUnavailable as e:
            self._settle_failed_ingest()
            raise EmbedderUnavailable(f"{e}; then run the same command again (nothing indexed before is lost)") from e

    def _settle_failed_ingest(self) -> None:
        """The embedder failed in the middle of an ingest, with the store sound: do now what the next open
        would, delete the articles left half-written and commit, so the questions asked meanwhile see
        whole articles only (and the keyword index is saved again)."""
        with contextlib.suppress(RagError), self._storage("ingest"), writer_lock(self.settings):
            with existing_ledger(ledger_path(self.settings)) as ledger:
                if ledger is not None:
                    recover(self.store, ledger)
            self.store.commit()

    def remove(self, *targets: str | Path) -> IngestReport:
        """Remove articles by file, folder (files present or not), location (FILE#KEY) or article id."""
        with self._storage("remove"):
            return remove([str(t) for t in targets], self.store, self.embedder, self.settings)

    def _ledger_counts(self) -> dict[str, int]:
        with existing_ledger(ledger_path(self.settings)) as ledger:
            return ledger.counts() if ledger else {}

    def article_locations(self, article_id: str) -> list[Location]:
        """Every input that became this article: its file, identical copies, near-duplicates ("also
        published by"), with each one's title, outlet, URL and date."""
        return self._locations([article_id])[article_id]

    def article_of_locations(self) -> dict[str, str]:
        """Every input location (file, or FILE#KEY for a record) -> the article id it became (a copy or a
        near-duplicate maps to the article kept for it)."""
        with existing_ledger(ledger_path(self.settings)) as ledger:
            return ledger.article_of_locations() if ledger else {}

    def article_of_files(self) -> dict[str, str]:
        """Every single-article input file -> the article id it became."""
        with existing_ledger(ledger_path(self.settings)) as ledger:
            return ledger.article_of_files() if ledger else {}

    def _locations(self, article_ids: Sequence[str]) -> dict[str, list[Location]]:
        with existing_ledger(ledger_path(self.settings)) as ledger:
            return {aid: ledger.locations_of(aid) if ledger else [] for aid in article_ids}

    # --- ask ------------------------------------------------------------------------------------
    def validate_question(self, question: str) -> str:
        if question is not None and not isinstance(question, str):
            raise BadQuestion(f"the question must be text, not {type(question).__name__}")
        q = (question or "").strip()
        problem = text_problem(q)
        if problem:  # a NUL, another control character, an unpaired surrogate: pasted binary or broken text
            raise BadQuestion(f"the question cannot be used: {problem}")
        if not q:
            raise BadQuestion("the question is empty")
        if len(q) > self.settings.max_question_chars:
            raise BadQuestion(
                f"the question has {len(q):,} characters; the limit is {self.settings.max_question_chars:,}"
            )
        if not re.search(r"[^\W_]", q):
            raise BadQuestion("the question has no words, only punctuation or symbols")
        return q

    def backend_for(self, backend: str | None) -> str:
        if self._injected_llm is not None and (backend or self.settings.llm.backend) != "extractive":
            return f"custom:{self._injected_llm.metadata.model_name}"
        return resolve_backend(self.settings.llm, backend)

    def condense_model(self, backend: str | None) -> LLM | None:
        """The model that rewrites follow-ups for this backend: a served one (Ollama, OpenAI-compatible) or
        one passed in, not the tiny bundled model (its rewrites are often wrong) and none for extractive."""
        try:
            name = self.backend_for(backend)
        except RagError:
            return None
        return self._llm(name) if name in ("ollama", "openai") or name.startswith("custom:") else None

    def use_ollama_model(self, name: str) -> None:
        """Answer with another Ollama model from now on (for everyone using this Index)."""
        name = name.strip()
        if name and name != self.settings.llm.ollama_model:
            self.settings.llm.ollama_model = name
            self._llms.pop("ollama", None)

    def use_openai_model(self, name: str) -> None:
        """Answer with another model of the OpenAI-compatible server from now on (for everyone)."""
        name = name.strip()
        if name and name != self.settings.llm.openai_model:
            self.settings.llm.openai_model = name
            self._llms.pop("openai", None)

    def _llm(self, backend: str) -> LLM:
        if self._injected_llm is not None:
            return self._injected_llm
        if backend not in self._llms:
            self._llms[backend] = make_llm(backend, self.settings.llm)
        return self._llms[backend]

    def ask_stream(
        self,
        question: str,
        backend: str | None = None,
        top_k: int | None = None,
        query: str | None = None,
        filters: Filters | None = None,
    ) -> AnswerStream:
        """Like `ask`, but the answer text arrives in verified pieces while the model writes.

        `query` (optional) is the text used for retrieval when it differs from the question, as for a
        follow-up rewritten with the chat history.
        """
        q = self.validate_question(question)
        name = self.backend_for(backend)
        with self._storage("ask"):
            allowed = self._allowed_articles(filters)  # bad or empty filters fail here, before any streaming
        return AnswerStream(self._answer_events(q, name, top_k, query or q, allowed))

    def ask(
        self, question: str, backend: str | None = None, top_k: int | None = None, filters: Filters | None = None
    ) -> Answer:
        """Answer `question` from the indexed articles, with verified citations.

        `backend`: 'auto' (default setting), 'ollama', 'openai', 'llamacpp' or 'extractive'.
        `filters`: search only some articles, e.g. `Filters.parse(sources="CNN", since="2025-11")`; raises
        NoMatchingArticles when no article passes them.
        """
        return self.ask_stream(question, backend=backend, top_k=top_k, filters=filters).answer

    def search(self, query: str, top_k: int | None = None, filters: Filters | None = None) -> list[ScoredPassage]:
        """The passages retrieval finds for `query`, best first (no answer step)."""
        with self._storage("search"):
            self._require_articles()
            allowed = self._allowed_articles(filters)
            passages, _ = self.retriever.retrieve(self.validate_question(query), top_k, allowed_articles=allowed)
        return passages

    def check(
        self,
        text: str,
        filters: Filters | None = None,
        top_k: int | None = None,
        progress: Callable[[int, int], object] | None = None,
    ) -> list[CheckedSentence]:
        """Fact-check `text`: each sentence judged against the passages retrieval finds for it.

        One result per sentence, in order; `result.quoted()` gives each quote with its passage, so
        `passage.path` and the quote's `start`/`end` (article offsets) locate it. `progress(done, total)`
        is called as sentences are searched (a long text takes a while). Raises BadCheckInput (empty,
        too long, not plain text), NoArticles, or NoMatchingArticles for `filters`.
        """
        text = validate_text(text)
        with self._storage("check"):
            self._require_articles()
            allowed = self._allowed_articles(filters)
            keyword_index = self.store.keyword_index()
            sentences = sentences_of(text)
            unique = list(dict.fromkeys(sentences))
            found: dict[str, list[str]] = {}  # sentence -> ids of its passages, best first
            passages: dict[str, Passage] = {}
            for done, sentence in enumerate(unique, start=1):
                # recent=False: "now" in a sentence is a claim to check against every date, not a wish for news
                hits, _ = self.retriever.retrieve(
                    sentence, top_k, keyword_index, allowed_articles=allowed, recent=False
                )
                found[sentence] = [sp.passage.id for sp in hits]
                passages.update((sp.passage.id, sp.passage) for sp in hits)
                if progress is not None:
                    progress(done, len(unique))
        # One judge over every passage found, so a passage several sentences retrieve is cut into units once.
        shared = tuple(passages.values())
        position = {pid: i for i, pid in enumerate(passages)}
        judge = SupportJudge(shared)
        judged = {
            s: CheckedSentence(judge.judge(s, [position[pid] for pid in ids]), shared) for s, ids in found.items()
        }
        return [judged[s] for s in sentences]

    def _require_articles(self) -> None:
        if self.store.is_empty():
            raise NoArticles(
                f"the index at {self.settings.chroma_url or self.settings.index} has no articles: run `rag ingest PATH`"
            )

    def _allowed_articles(self, filters: Filters | None) -> set[str] | None:
        """The article ids `filters` let through (None: no filtering). Raises NoMatchingArticles."""
        if not filters:
            return None
        self._require_articles()
        records = self.store.article_records()
        key = (filters, self.store.records_stamp)
        if key not in self._allowed_cache:  # a chat asks many questions under the same filters
            copies: dict[str, list[dict[str, str]]] = {}
            if filters.paths or filters.sources:
                with existing_ledger(ledger_path(self.settings)) as ledger:
                    copies = ledger.other_locations() if ledger else {}
            allowed = filters.allowed(records, copies)
            if len(self._allowed_cache) >= 32:
                self._allowed_cache.clear()
            self._allowed_cache[key] = None if len(allowed) == len(records) else allowed
        return self._allowed_cache[key]

    def outlets(self) -> list[str]:
        """Outlet names in the index (for filter choices)."""
        return sorted({str(m.get("source") or "") for m in self.store.article_records().values()} - {""})

    def languages(self) -> list[str]:
        """Language codes of the indexed articles (for filter choices)."""
        return sorted({str(m.get("language") or "") for m in self.store.article_records().values()} - {"", "und"})

    def _answer_events(
        self, question: str, backend: str, top_k: int | None, query: str, allowed: set[str] | None = None
    ) -> Iterator[str | Answer]:
        with self._storage("ask"):  # a Chroma server can go away between two questions, or in the middle of one
            yield from self._answer_steps(question, backend, top_k, query, allowed)

    def _answer_steps(
        self, question: str, backend: str, top_k: int | None, query: str, allowed: set[str] | None
    ) -> Iterator[str | Answer]:
        t0 = time.perf_counter()
        self._require_articles()
        keyword_index = self.store.keyword_index()  # checked for staleness once per question
        passages, _ = self.retriever.retrieve(query, top_k, keyword_index, allowed_articles=allowed)
        t1 = time.perf_counter()
        evidence = rank_evidence(query, passages, keyword_index.knows, self.store.article_text)
        t2 = time.perf_counter()
        best = max((e.coverage for e in evidence), default=0.0)
        answer: Answer | None = None
        first_token: float | None = None
        floor = self.settings.retrieve.min_coverage
        asked = who_question_in(question, query)
        if asked is not None:  # "who claims X?": the claimants, from the claims extracted at ingest
            claims = self.store.claim_index()
            answer = who_answer(question, asked, passages, claims.of, self.store.passages_of, self.store.article_text)
        if answer is not None:
            yield answer.text
        elif best < floor:
            reason = f"no passage covers the question (best coverage {best:.2f} < {floor:.2f})"
            unknown = unknown_terms(query, keyword_index.knows)
            reason += f"; in no indexed article: {', '.join(unknown)}" if unknown else ""
            answer = abstention(question, passages, reason)
            yield answer.text
        elif backend == "extractive":
            answer = extractive_answer(question, passages, evidence, floor)
            yield answer.text
        else:
            try:
                shown = passages_for_model(passages, evidence, self.settings.llm.passages)
                llm = self._llm(backend)
                judge = judge_pass_enabled(self.settings.llm.judge_pass, backend, llm)
                for event in generate_verified(llm, question, passages, evidence, backend, shown, judge):
                    if isinstance(event, Answer):
                        answer = event
                    else:
                        first_token = first_token or time.perf_counter()
                        yield event
            except RagError:
                raise
            except Exception as e:  # the backend's own errors (HTTP, llama.cpp) become one clear line
                raise backend_fault(backend, e, self.settings.llm, started=first_token is not None) from e
        assert answer is not None
        t3 = time.perf_counter()
        answer.timings = {
            "retrieve_s": t1 - t0,
            "evidence_s": t2 - t1,
            "answer_s": t3 - t2,
            "total_s": t3 - t0,
            **answer.timings,  # the answer step's own (the judge pass: judge_s)
        }
        if first_token is not None:
            answer.timings["first_text_s"] = first_token - t0
        answer.timings["evidence_coverage"] = best
        if not answer.claims and answer.citations:
            answer.claims = claims_behind(answer.citations, self.store.claim_index().of)
        answer.citations = self._with_other_publications(answer.citations)
        answer.source_note = source_note(question, answer.citations)
        answer.language_note = language_note(question, answer)
        answer.query = query
        answer.settings_hash = self.settings.settings_hash()
        yield answer

    def _with_other_publications(self, citations: list[Citation]) -> list[Citation]:
        out = []
        locations = self._locations([c.passage.article_id for c in citations])  # one ledger read per answer
        for c in citations:
            others = [loc for loc in locations[c.passage.article_id] if loc.location != c.passage.path]
            also = tuple(
                {
                    "path": loc.location,
                    "title": loc.title,
                    "source": loc.source,
                    "url": loc.url,
                    "published": loc.published or None,
                    "similarity": round(loc.similarity, 3),
                }
                for loc in others
            )
            out.append(replace(c, also_published_by=also) if also else c)
        return out

    def chat(self) -> Chat:
        """A conversation: follow-up questions are read in the light of the previous ones."""
        return Chat(self)

    # --- status ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Counts, manifest, the embedder, and which answer backends are available (and why not)."""
        with self._storage("status"):
            passages, ledger, manifest = self.store.count(), self._ledger_counts(), self.store.manifest()
        backends = backend_statuses(self.settings.llm)
        return {
            "index": str(self.settings.index),
            "chroma": self.settings.chroma_url or f"embedded ({self.settings.index / 'chroma'})",
            "passages": passages,
            "ledger": ledger,
            "manifest": manifest,
            "backends": {
                s.name: {"available": s.available, "detail": s.detail, "in_auto": s.in_auto} for s in backends
            },
            "default_backend": self.settings.llm.backend,
            "auto_backend": auto_choice(backends),
            "embedder": self._embedder_status(manifest),
        }

    def _embedder_status(self, manifest: dict[str, Any]) -> dict[str, Any]:
        """The embedder the index was built with (None: nothing stored yet), the one configured, and
        the Ollama embedding option (reachable? the model pulled?)."""
        ollama = ollama_embed_status(self.settings.embed)
        return {
            "index": (manifest.get("identity") or {}).get("embedder"),
            "configured": self.embedder.name,
            "ollama": {"available": ollama.available, "detail": ollama.detail},
        }


def open_index(
    path: str | Path | None = None,
    *,
    embedder: Embedder | None = None,
    language_model: LLM | None = None,
    **settings: Any,
) -> Index:
    """Open (or create) the index at `path`; keyword arguments override settings, e.g.
    `rag.open("index", llm={"backend": "extractive"}, retrieve={"top_k": 8})`.
    `embedder` and `language_model` replace the configured components (tests pass fakes here)."""
    if path is not None:
        settings["index"] = Path(path)
    return Index(Settings(**settings), embedder=embedder, language_model=language_model)
