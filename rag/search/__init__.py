"""Search: finding passages for a question.
Takes a question and filters; gives ranked passages (dense + keyword fusion, name variants, spread over articles)."""
