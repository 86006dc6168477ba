"""Prompt templates are files in `prompts/`, shipped inside the wheel; one loader, strict about variables."""

from __future__ import annotations

import string
from functools import cache
from importlib import resources
from pathlib import Path

_SOURCE_TREE = Path(__file__).resolve().parents[2] / "prompts"


def _prompt_dir() -> Path:
    packaged = resources.files("rag") / "_prompts"  # where the wheel puts prompts/ (pyproject.toml)
    if packaged.is_dir():
        return Path(str(packaged))
    return _SOURCE_TREE


@cache
def load_prompt(name: str) -> str:
    """Text of `prompts/NAME.md`."""
    path = _prompt_dir() / f"{name}.md"
    return path.read_text(encoding="utf-8").strip() + "\n"


def template_variables(name: str) -> set[str]:
    """The `{variables}` a template uses."""
    return {field for _, field, _, _ in string.Formatter().parse(load_prompt(name)) if field}


def render(name: str, **values: object) -> str:
    """Fill a template; a missing or surplus variable is an error, so code and prompt cannot drift apart."""
    wanted = template_variables(name)
    if wanted != set(values):
        raise KeyError(f"prompt {name!r} takes {sorted(wanted)}, got {sorted(values)}")
    return load_prompt(name).format(**values)
