"""Cited question answering over your news articles, offline.

>>> import rag                                               # doctest: +SKIP
>>> idx = rag.open("index")                                  # open or create
>>> idx.ingest("seeds")                                      # files or folders
>>> a = idx.ask("who claims Pokrovsk has fallen?")
>>> print(a.text)                                            # sentences with [n] markers
>>> a.citations[0].quote, a.citations[0].passage.path        # the exact supporting sentence
>>> for piece in idx.ask_stream("..."): print(piece, end="") # streaming
>>> chat = idx.chat(); chat.ask("..."); chat.ask("and Myrnohrad?")
>>> idx.ask("...", filters=rag.Filters.parse(sources="Kyiv Independent", languages="en", since="2025-11"))
>>> idx.search("Myrnohrad")                                  # passages only, best first
"""

from rag.config import Settings
from rag.errors import RagError
from rag.filters import BadFilter, Filters, NoMatchingArticles
from rag.pipeline import AnswerStream, Index, open_index
from rag.types import Answer, Article, Citation, Claim, IngestReport, Passage

open = open_index

__all__ = [
    "Answer",
    "AnswerStream",
    "Article",
    "BadFilter",
    "Citation",
    "Claim",
    "Filters",
    "Index",
    "IngestReport",
    "NoMatchingArticles",
    "Passage",
    "RagError",
    "Settings",
    "open",
]
__version__ = "0.1.0"
