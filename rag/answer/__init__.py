"""Answer: from passages to a checked answer.
Takes ranked passages; gives an Answer whose every sentence is judged and cited (LLM or extractive), and fact-checks."""
