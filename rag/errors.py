"""Errors the user sees: each says what is wrong and what to do."""

from __future__ import annotations


class RagError(Exception):
    """Base of the errors this package raises on purpose; the CLI prints them as one line."""


class MissingDependency(RagError):
    def __init__(self, package: str, needed_for: str) -> None:
        super().__init__(f"{needed_for} needs the Python package '{package}': pip install {package}")


class IndexMismatch(RagError):
    """The index on disk was built with other settings than the ones asked for."""


class BadQuestion(RagError):
    """Empty, too long, or otherwise unusable question."""


class BackendUnavailable(RagError):
    """The chosen LLM backend cannot answer (server down, model not pulled, file missing)."""


class NoArticles(RagError):
    """The index holds nothing to answer from."""


class BadSetting(RagError):
    """A setting or environment value that cannot be used as given."""


class IndexWriteFailed(RagError):
    """The index folder cannot take a write: the disk is full or the folder is read-only. Nothing stored
    before is lost; the same command finishes once the cause is gone."""


class DiskFull(IndexWriteFailed):
    """No space left on the disk holding the index folder."""


class IndexReadOnly(IndexWriteFailed):
    """The index folder (or its file system) is read-only, or not ours to write."""


class StoreUnavailable(RagError):
    """The Chroma server is not reachable, went away in the middle of a request, or lost the collection."""


class AnswerInterrupted(BackendUnavailable):
    """The LLM backend stopped in the middle of an answer, after part of it was shown."""


class EmbedderUnavailable(RagError):
    """The configured embedder cannot embed: its Ollama server is not reachable, the model is not pulled,
    or it is not an embedding model."""
