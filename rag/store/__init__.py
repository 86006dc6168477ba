"""Store: where passages live.
Takes passages; gives their vectors (embedders), Chroma (passages, articles, manifest) and the BM25 keyword index."""
