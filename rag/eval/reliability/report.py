"""One row per measured figure, and the table the suite prints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Row:
    """One figure of one scenario: `ok` says whether it meets what the scenario requires."""

    scenario: str  # e.g. "hostile files", "SIGKILL during ingest", "disk full"
    figure: str  # what was measured, e.g. "files named with a reason"
    value: str  # the measurement as shown, e.g. "43 / 43"
    ok: bool = True
    note: str = ""  # what the user saw, or why a scenario was skipped

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def skipped(scenario: str, why: str) -> Row:
    """A scenario that could not run here (not root, no `chroma` command): reported, never failed."""
    return Row(scenario, "skipped", "-", ok=True, note=why)


def table(rows: Sequence[Row]) -> str:
    """The rows as a Markdown table (the form docs/reliability.md quotes)."""
    lines = ["| scenario | figure | value | ok | note |", "|---|---|---|---|---|"]
    for r in rows:
        note = r.note.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {r.scenario} | {r.figure} | {r.value} | {'yes' if r.ok else 'NO'} | {note} |")
    return "\n".join(lines)
