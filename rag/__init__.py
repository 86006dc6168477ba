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
>>> idx.check("Only 1,600 residents remain in Toretsk.")     # fact-check: verdict and quotes per sentence
>>> rag.check_against(text, [{"id": "p1", "text": "..."}])   # ... against given passages, no index
"""

from rag.answer.check import BadCheckInput, CheckedSentence, check_against
from rag.answer.judgement import Judgement
from rag.app.index import Index, open_index
from rag.app.stream import AnswerStream
from rag.config import Settings
from rag.errors import RagError
from rag.search.filters import BadFilter, Filters, NoMatchingArticles
from rag.types import Answer, Article, Citation, Claim, IngestReport, Passage

open = open_index

__all__ = [
    "Answer",
    "AnswerStream",
    "Article",
    "BadCheckInput",
    "BadFilter",
    "CheckedSentence",
    "Citation",
    "Claim",
    "Filters",
    "Index",
    "IngestReport",
    "Judgement",
    "NoMatchingArticles",
    "Passage",
    "RagError",
    "Settings",
    "check_against",
    "open",
]
__version__ = "0.1.0"
