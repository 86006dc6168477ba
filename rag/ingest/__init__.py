"""Files to Articles to Passages: load, clean, chunk."""
