"""Reliability suite: hostile files, SIGKILLs, full disks, dying servers and many users, as figures.

`python -m rag.eval.reliability` (`make reliability`) runs every scenario and prints one table;
`--short` is the version `make test` runs. Each scenario module exposes
`run(workdir: Path, short: bool) -> list[Row]`.
"""
