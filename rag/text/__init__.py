"""Text: what words, names, numbers and sentences are, for every stage below.
Takes strings; gives sentence spans, languages and function words, name variants, quantities."""
