"""Claims: who said what in an article, extracted at ingest and kept beside the index.
Takes article text; gives (speaker, cue, content) spans and the stored ClaimIndex."""
