"""Where passages live: a Chroma collection (embedded, or a Chroma server), the BM25 index beside it, a manifest.

The manifest (embedder, chunking, counts) is kept in the collection's metadata, so every client of a
shared Chroma server sees the same one, and mirrored to `index/manifest.json` for people to read.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

from rag.atomic import write_text_atomically
from rag.claims.stored import ClaimIndex
from rag.config import Settings
from rag.errors import IndexMismatch, IndexWriteFailed, RagError
from rag.faults import Place, translated
from rag.store.embed import Vectors
from rag.store.keyword import KeywordIndex, keyword_version
from rag.types import Article, Passage

_MANIFEST_KEY = "rag_manifest"
_PAGE = 5000  # rows per Chroma `get` page, to bound memory on large collections


@dataclass
class VectorTable:
    """Passage vectors as one matrix, with each row's article, for exact search within a filter."""

    ids: list[str]
    articles: np.ndarray  # row -> article number
    numbers: dict[str, int]  # article id -> article number
    matrix: np.ndarray  # (rows, dim), L2-normalised

    @classmethod
    def build(cls, ids: list[str], blocks: list[np.ndarray]) -> VectorTable:
        numbers: dict[str, int] = {}
        articles = np.asarray([numbers.setdefault(pid.rsplit(":", 1)[0], len(numbers)) for pid in ids], dtype=np.int64)
        matrix = np.vstack(blocks) if blocks else np.zeros((0, 1), dtype=np.float32)
        return cls(ids, articles, numbers, matrix)

    def search(self, query: np.ndarray, k: int, allowed_articles: set[str]) -> list[tuple[str, float]]:
        """(passage id, cosine similarity) of the best `k` rows of the allowed articles."""
        wanted = np.asarray([self.numbers[a] for a in allowed_articles if a in self.numbers], dtype=np.int64)
        rows = np.flatnonzero(np.isin(self.articles, wanted))
        if rows.size == 0:
            return []
        sims = self.matrix[rows] @ query
        best = np.argsort(-sims)[:k] if rows.size <= k else np.argpartition(-sims, k)[:k]
        best = best[np.argsort(-sims[best])]
        return [(self.ids[int(rows[i])], float(sims[i])) for i in best]


def _passage_metadata(p: Passage) -> dict[str, Any]:
    # Chroma metadata values cannot be None.
    return {
        "article_id": p.article_id,
        "start": p.start,
        "end": p.end,
        "path": p.path,
        "title": p.title,
        "source": p.source,
        "url": p.url,
        "published": p.published or "",
        "language": p.language,
    }


def _passage(pid: str, text: str, m: dict[str, Any]) -> Passage:
    return Passage(
        id=pid,
        article_id=str(m["article_id"]),
        text=text,
        start=int(m["start"]),
        end=int(m["end"]),
        path=str(m.get("path", "")),
        title=str(m.get("title", "")),
        source=str(m.get("source", "")),
        url=str(m.get("url", "")),
        published=str(m.get("published") or "") or None,
        language=str(m.get("language", "")),
    )


def chroma_path(settings: Settings) -> Path:
    """The embedded Chroma database's folder (chromadb shares one client system per such path)."""
    return Path(settings.index) / "chroma"


def make_chroma_client(settings: Settings) -> Any:
    """Embedded PersistentClient in `index/chroma`, or an HttpClient for `chroma_url`. Telemetry off."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if not url.hostname:
            raise RagError(f"RAG_CHROMA_URL={settings.chroma_url!r} is not a URL like http://127.0.0.1:8000")
        # chromadb asks the server who we are here: one that is down raises a ValueError from an
        # httpx.ConnectError (rag.faults names it; the Store opens its client under `translated`).
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    path = chroma_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    # A read-only folder fails here ("(code: 8) attempt to write a readonly database"): Chroma opens its
    # database for writing even to read.
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


class Store:
    """Passages with vectors (Chroma) and words (BM25), under one manifest."""

    def __init__(self, settings: Settings, embedder_name: str) -> None:
        self.settings = settings
        self.folder = Path(settings.index)
        self.identity = {**settings.index_identity(), "embedder": embedder_name}
        self._keyword: KeywordIndex | None = None
        self._keyword_stamp = ""  # the collection state `_keyword` was built for
        self._vectors: VectorTable | None = None  # for filtered searches
        self._vectors_stamp = ""
        self._records: dict[str, dict[str, Any]] = {}
        self._records_stamp = ""  # the collection state `_records` was read at
        self._claims: ClaimIndex | None = None
        self._claims_stamp = ""
        self._abandoned = False
        # The keyword index and the claims are derived from the collection and cached here; the threads of
        # `rag serve` (questions, uploads) rebuild and save them one at a time.
        self._derived_lock = threading.RLock()
        try:  # a full disk, a read-only folder or a Chroma server that is down: one line (rag.faults)
            with translated(Place.of(settings), "open"):
                self.folder.mkdir(parents=True, exist_ok=True)
                self._connect()
                self._check_manifest()
                self._repair_manifest_file()
        except IndexWriteFailed:
            self.abandon()
            raise

    def _connect(self) -> None:
        self._client = make_chroma_client(self.settings)
        self._collection = self._client.get_or_create_collection(
            name=self.settings.collection, configuration={"hnsw": {"space": "cosine"}}
        )
        # Whole articles, for context around a passage and for reading in full: Chroma as document store
        # (one-number placeholder vectors; this collection is never searched by vector).
        self._articles = self._client.get_or_create_collection(name=f"{self.settings.collection}_articles")

    def abandon(self) -> None:
        """After a storage fault: no later client of this folder in this process gets this Chroma system.
        An embedded system whose write failed on a full disk hangs on its next write, even once there is
        space again (chromadb 1.5); a fresh one does not. This store keeps reading with it until
        `reconnect`. (chromadb shares one system per folder through a cache with no public way to drop
        a single entry.)"""
        if self.settings.chroma_url is not None:
            return
        from chromadb.api.shared_system_client import SharedSystemClient

        # Also the system whose start failed (a read-only folder): chromadb caches it before starting it.
        identifier = str(chroma_path(self.settings))
        for name in ("_identifier_to_system", "_identifier_to_refcount"):
            cache = getattr(SharedSystemClient, name, None)
            if isinstance(cache, dict):  # a later chromadb may keep it otherwise: then there is nothing to drop
                cache.pop(identifier, None)
        self._abandoned = True

    def reconnect(self) -> None:
        """A new Chroma client and collection handles, after a fault: a fresh embedded system (see
        `abandon`), or fresh collection ids from a server restarted on another data folder."""
        self.close()
        self._connect()
        self._abandoned = False

    def close(self) -> None:
        """Let go of the Chroma client: the embedded database is closed with the last client of its folder.
        An abandoned client is only dropped: closing it would stop the system that replaced it."""
        if not self._abandoned:
            with contextlib.suppress(Exception):  # closing must never hide the fault that led here
                self._client.close()

    # --- manifest -------------------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        raw = (self._collection.metadata or {}).get(_MANIFEST_KEY)
        return json.loads(raw) if raw else {}

    def _check_manifest(self) -> None:
        built_with = self.manifest().get("identity")
        if built_with and built_with != self.identity:
            diffs = ", ".join(
                f"{k}: index has {built_with.get(k)!r}, settings ask for {v!r}"
                for k, v in self.identity.items()
                if built_with.get(k) != v
            )
            where = self.settings.chroma_url or str(self.folder)
            raise IndexMismatch(
                f"the index at {where} was built with other settings ({diffs}). Use the settings it was "
                f"built with, or rebuild it: delete {self.folder} (or the Chroma collection "
                f"'{self.settings.collection}') and run `rag ingest` again, or pass --index NEW_FOLDER."
            )

    def _write_manifest(self, writing: bool, **counts: int) -> None:
        """Chroma first, then the file mirror. `token` is new on every write (readers compare it to
        know whether their keyword index is current); `writing` is true between `begin_writes` and
        `commit`, while passages come and go."""
        old = self.manifest()
        manifest = {
            "identity": self.identity,
            "revision": int(old.get("revision", 0)) + 1,
            "token": uuid.uuid4().hex,
            "writing": writing,
            "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            **counts,
        }
        self._collection.modify(metadata={_MANIFEST_KEY: json.dumps(manifest)})
        self._mirror_manifest(manifest)

    def _mirror_manifest(self, manifest: dict[str, Any]) -> None:
        write_text_atomically(self.folder / "manifest.json", json.dumps(manifest, indent=2) + "\n")

    def _repair_manifest_file(self) -> None:
        """A process killed between the two writes of `_write_manifest` leaves the file behind Chroma;
        the file is what readers check per question, so it is brought level when an index is opened."""
        if self.settings.chroma_url is not None:
            return
        truth = self.manifest()
        if not truth:
            return
        try:
            mirrored = json.loads((self.folder / "manifest.json").read_text())
        except (OSError, ValueError):
            mirrored = {}
        if mirrored != truth:
            self._mirror_manifest(truth)

    # --- writing --------------------------------------------------------------------------------
    def add(self, passages: Sequence[Passage], vectors: Vectors) -> None:
        if not passages:
            return
        self._collection.upsert(
            ids=[p.id for p in passages],
            embeddings=np.asarray(vectors, dtype=np.float32),
            documents=[p.text for p in passages],
            metadatas=[_passage_metadata(p) for p in passages],
        )

    def add_articles(self, articles: Sequence[Article]) -> None:
        """Article records (whole text and metadata), written once all of an article's passages are."""
        if not articles:
            return
        metas = []
        for article in articles:
            meta = {k: v for k, v in asdict(article).items() if k not in ("text", "id")}
            meta["published"] = meta["published"] or ""
            metas.append(meta)
        self._articles.upsert(
            ids=[a.id for a in articles],
            embeddings=[[0.0]] * len(articles),
            documents=[a.text for a in articles],
            metadatas=metas,
        )

    def relabel_article(self, article_id: str, path: str) -> None:
        """Name another file for an article (its first file went, an identical copy remains), so citations
        point to a file that still holds the text."""
        rows = self._collection.get(where={"article_id": article_id}, include=["metadatas"])
        if rows["ids"]:
            self._collection.update(ids=rows["ids"], metadatas=[{**m, "path": path} for m in rows["metadatas"]])
        res = self._articles.get(ids=[article_id], include=["metadatas"])
        if res["ids"]:
            self._articles.update(ids=[article_id], metadatas=[{**res["metadatas"][0], "path": path}])

    def article_text(self, article_id: str) -> str | None:
        res = self._articles.get(ids=[article_id], include=["documents"])
        return res["documents"][0] if res["ids"] else None

    def article_texts(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Whole texts of many articles, read in pages."""
        out: dict[str, str] = {}
        ids = list(article_ids)
        for i in range(0, len(ids), _PAGE // 10):
            res = self._articles.get(ids=ids[i : i + _PAGE // 10], include=["documents"])
            out.update(zip(res["ids"], res["documents"], strict=True))
        return out

    def passages_of(self, article_id: str) -> list[Passage]:
        """An article's passages, in text order."""
        res = self._collection.get(where={"article_id": article_id}, include=["documents", "metadatas"])
        rows = zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        return sorted((_passage(pid, doc, meta) for pid, doc, meta in rows), key=lambda p: p.start)

    def claim_index(self) -> ClaimIndex:
        """Who said what in every stored article: loaded from disk, extended with the articles added
        since (by this or another writer), saved again unless a write is under way."""
        with self._derived_lock:
            return self._current_claim_index()

    def _current_claim_index(self) -> ClaimIndex:
        stamp = self._stamp()
        if self._claims is None or self._claims_stamp != stamp:
            current = self._claims if self._claims is not None else ClaimIndex.load(self.folder)
            claims, changed = current.refreshed(self.article_records().keys(), self.article_texts)
            if changed and not stamp.endswith(":writing"):
                claims.save(self.folder)
            self._claims, self._claims_stamp = claims, stamp
        return self._claims

    def delete_article(self, article_id: str) -> None:
        """Passages first, then the article record: a crash in between leaves nothing searchable."""
        self._collection.delete(where={"article_id": article_id})
        self._articles.delete(ids=[article_id])

    def begin_writes(self) -> None:
        """Bump the revision before changing anything, so a run that dies half-way leaves a revision the
        saved keyword index does not match: it is rebuilt instead of serving stale ids."""
        old = self.manifest()
        self._write_manifest(True, articles=int(old.get("articles", 0)), passages=int(old.get("passages", 0)))

    def passage_article_ids(self) -> dict[str, int]:
        """article_id -> number of passages, over the whole collection (for checks and repairs)."""
        counts: dict[str, int] = {}
        for _, _, meta in self._iter_rows(documents=False):
            counts[str(meta["article_id"])] = counts.get(str(meta["article_id"]), 0) + 1
        return counts

    def commit(self) -> None:
        """After a batch of writes: record counts in the manifest and rebuild the keyword index."""
        with self._derived_lock:
            self._commit()

    def _commit(self) -> None:
        ids, texts = [], []
        for pid, text, _ in self._iter_rows():
            ids.append(pid)
            texts.append(text)
        self._write_manifest(False, articles=int(self._articles.count()), passages=len(ids))
        self._keyword = KeywordIndex.build(ids, texts)
        self._keyword_stamp = self._stamp()
        self._keyword.save(self.folder / "keyword", self._keyword_stamp)
        self.claim_index()  # attribution runs at ingest, so questions do not pay for it

    # --- reading --------------------------------------------------------------------------------
    def _iter_rows(self, documents: bool = True) -> Iterator[tuple[str, str, dict[str, Any]]]:
        offset = 0
        include = ["documents", "metadatas"] if documents else ["metadatas"]
        while True:
            page = self._collection.get(include=include, limit=_PAGE, offset=offset)
            docs = page["documents"] if documents else [""] * len(page["ids"])
            yield from zip(page["ids"], docs, page["metadatas"], strict=True)
            if len(page["ids"]) < _PAGE:
                return
            offset += _PAGE

    def articles(self) -> dict[str, dict[str, Any]]:
        """article_id -> its metadata (path, title, source, published, language, sha256)."""
        out: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = self._articles.get(include=["metadatas"], limit=_PAGE, offset=offset)
            out.update(zip(page["ids"], page["metadatas"], strict=True))
            if len(page["ids"]) < _PAGE:
                return out
            offset += _PAGE

    @property
    def records_stamp(self) -> str:
        """The collection state `article_records()` was last read at."""
        return self._records_stamp

    def article_records(self) -> dict[str, dict[str, Any]]:
        """`articles()`, kept until the collection changes: filters are resolved against it per question."""
        stamp = self._stamp()
        if self._records_stamp != stamp:
            self._records, self._records_stamp = self.articles(), stamp
        return self._records

    def count(self) -> int:
        return int(self._collection.count())

    def is_empty(self) -> bool:
        """No committed passages (the embedded manifest says so without asking Chroma; per question)."""
        if self.settings.chroma_url is None:
            try:
                return int(json.loads((self.folder / "manifest.json").read_text()).get("passages", 0)) == 0
            except (OSError, ValueError):
                pass
        return self.count() == 0

    def article_count(self) -> int:
        return int(self._articles.count())

    def _stamp(self) -> str:
        """The collection's state, checked once per question: the manifest's write token, plus the live
        passage count while a writer is between `begin_writes` and `commit`. An embedded index reads its
        manifest file (microseconds); on a Chroma server another client may have written, so the
        collection itself is asked."""
        manifest: dict[str, Any] | None = None
        if self.settings.chroma_url is None:
            try:
                manifest = json.loads((self.folder / "manifest.json").read_text())
            except (OSError, ValueError):
                manifest = None  # nothing written yet: ask Chroma
        if manifest is None:
            self._collection = self._client.get_collection(self.settings.collection)
            manifest = self.manifest()
        token = str(manifest.get("token") or manifest.get("revision", 0))
        if manifest.get("writing") or self.settings.chroma_url is not None:
            return f"{token}:{self.count()}:{keyword_version()}{':writing' if manifest.get('writing') else ''}"
        return f"{token}:{keyword_version()}"

    def keyword_index(self) -> KeywordIndex:
        """The BM25 index for the current contents: loaded from disk, or rebuilt when another writer
        (for example another client of the same Chroma server) changed the collection."""
        with self._derived_lock:
            return self._current_keyword_index()

    def _current_keyword_index(self) -> KeywordIndex:
        stamp = self._stamp()
        if self._keyword is None or self._keyword_stamp != stamp:
            self._keyword = KeywordIndex.load(self.folder / "keyword", stamp)
        if self._keyword is None:
            ids, texts = [], []
            for pid, text, _ in self._iter_rows():
                ids.append(pid)
                texts.append(text)
            self._keyword = KeywordIndex.build(ids, texts)
            if not stamp.endswith(":writing"):  # mid-write contents are never saved as current
                self._keyword.save(self.folder / "keyword", stamp)
        self._keyword_stamp = stamp
        return self._keyword

    def dense_search(
        self, vector: Vectors, k: int, allowed_articles: set[str] | None = None
    ) -> list[tuple[Passage, float]]:
        """Nearest `k` passages by cosine similarity; with `allowed_articles`, among those articles' only.
        (Chroma returns fewer than `k` when it holds fewer.)

        Filtered searches are exact, over the vectors held in memory: Chroma's `where` with thousands of
        article ids took 0.7 s per question at 50,000 passages (and fails past ~32,000 ids), the
        in-memory scan takes milliseconds."""
        query = np.asarray(vector, dtype=np.float32)
        if allowed_articles is None:
            return self._dense(query, k, None)
        hits = self.vector_table().search(query, k, allowed_articles)
        passages = {p.id: p for p in self.get([pid for pid, _ in hits])}
        return [(passages[pid], sim) for pid, sim in hits if pid in passages]

    def vector_table(self) -> VectorTable:
        """Every passage vector in memory (1.5 MB per 1,000 passages), read once per collection state."""
        stamp = self._stamp()
        if self._vectors is None or self._vectors_stamp != stamp:
            ids: list[str] = []
            blocks: list[np.ndarray] = []
            offset = 0
            while True:
                page = self._collection.get(include=["embeddings"], limit=_PAGE, offset=offset)
                if not page["ids"]:
                    break
                ids += page["ids"]
                blocks.append(np.asarray(page["embeddings"], dtype=np.float32))
                offset += len(page["ids"])
            self._vectors, self._vectors_stamp = VectorTable.build(ids, blocks), stamp
        return self._vectors

    def _dense(self, query: np.ndarray, k: int, where: dict[str, Any] | None) -> list[tuple[Passage, float]]:
        res = self._collection.query(
            query_embeddings=[query],
            n_results=k,
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        rows = zip(res["ids"][0], res["documents"][0], res["metadatas"][0], res["distances"][0], strict=True)
        return [(_passage(pid, doc, meta), 1.0 - float(dist)) for pid, doc, meta, dist in rows]

    def get(self, ids: Sequence[str]) -> list[Passage]:
        """Passages by id, in the order asked."""
        if not ids:
            return []
        res = self._collection.get(ids=list(ids), include=["documents", "metadatas"])
        found = {
            pid: _passage(pid, doc, meta)
            for pid, doc, meta in zip(res["ids"], res["documents"], res["metadatas"], strict=True)
        }
        return [found[i] for i in ids if i in found]

    def get_with_vectors(self, ids: Sequence[str]) -> tuple[list[Passage], dict[str, Vectors]]:
        """Passages by id (in the order asked) and their vectors, in one read."""
        if not ids:
            return [], {}
        from chromadb.errors import InternalError

        try:
            res = self._collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        except InternalError:
            # After a process was killed mid-write, Chroma can list a passage whose vector it has not
            # flushed yet ("Error finding id") until the next write completes: serve it without a vector.
            return self.get(ids), {}
        rows = zip(res["ids"], res["documents"], res["metadatas"], res["embeddings"], strict=True)
        found, vectors = {}, {}
        for pid, doc, meta, vec in rows:
            found[pid] = _passage(pid, doc, meta)
            vectors[pid] = np.asarray(vec, dtype=np.float32)
        return [found[i] for i in ids if i in found], vectors
