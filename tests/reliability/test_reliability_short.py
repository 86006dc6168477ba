"""The short reliability scenarios (what `python -m rag.eval.reliability --short` runs): every row must be ok."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.eval.reliability.report import table
from rag.eval.reliability.suite import run_scenario

pytestmark = [pytest.mark.reliability, pytest.mark.usefixtures("rag_env")]


@pytest.mark.parametrize("scenario", ["hostile", "kills", "faults", "load"])
def test_short_scenario_rows_are_ok(scenario: str, tmp_path: Path) -> None:
    rows = run_scenario(scenario, tmp_path, short=True)
    failed = [r for r in rows if not r.ok]
    assert not failed, "\n" + table(failed)
