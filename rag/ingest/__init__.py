"""Ingest: files → cleaned articles → passages, into a store it is handed.
Takes files, folders or piped bytes; gives passages with offsets, stored crash-safely, and a report of every input."""
