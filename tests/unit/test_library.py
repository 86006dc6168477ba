"""The UI's library and session rules without a browser: uploads kept inside the library folder only,
limits, the article table, statistics, removal, login settings, export, and follow-up rewriting."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rag.app.library import article_rows, index_stats, safe_name, save_uploads
from rag.app.ui import add_uploads, library_folder, parse_auth, remove_article
from rag.errors import BadSetting
from rag.testing import ScriptedLLM

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\evil.txt", "evil.txt"),
        (".hidden.txt", "hidden.txt"),
        ("/abs/path/report 2025.html", "report 2025.html"),
        ("rapport<script>.txt", "rapport_script_.txt"),
        ("..", "upload"),
    ],
)
def test_safe_name_keeps_only_the_file_name(name: str, safe: str) -> None:
    assert safe_name(name) == safe


def _upload(tmp: Path, name: str, data: bytes) -> tuple[str, Path]:
    temp = tmp / "gradio-temp" / f"{len(list(tmp.glob('gradio-temp/*')))}.bin"
    temp.parent.mkdir(exist_ok=True)
    temp.write_bytes(data)
    return name, temp


def test_uploads_stay_inside_the_library_with_limits(tmp_path: Path) -> None:
    library = tmp_path / "library"
    saved = save_uploads(
        [
            _upload(tmp_path, "../../outside.txt", b"Kupiansk bridge destroyed."),
            _upload(tmp_path, "tool.exe", b"MZ"),
            _upload(tmp_path, "big.txt", b"x" * 3_000_000),
            _upload(tmp_path, "note.txt", b"first"),
            _upload(tmp_path, "note.txt", b"first"),  # the same file again: kept once
            _upload(tmp_path, "note.txt", b"second"),  # another file with a taken name
        ],
        library,
        max_mb=2,
        max_files=10,
    )
    assert [p.name for p in saved.files] == ["outside.txt", "note.txt", "note.txt", "note (2).txt"]
    assert all(p.resolve().parent == library.resolve() for p in saved.files)
    assert not (tmp_path / "outside.txt").exists()
    reasons = {problem.path: problem.reason for problem in saved.refused}
    assert reasons["tool.exe"].startswith("unsupported file type '.exe'")
    assert reasons["big.txt"] == "2.9 MB; the upload limit is 2 MB"
    assert (library / "note (2).txt").read_bytes() == b"second"
    too_many = save_uploads([_upload(tmp_path, f"{i}.txt", b"x") for i in range(3)], library, 2, max_files=2)
    assert too_many.files == [] and too_many.refused[0].reason == "3 files; at most 2 per upload"


def test_article_rows_newest_first_and_stats() -> None:
    records = {
        "a": {"title": "Old", "source": "RFE/RL", "published": "2025-11-01", "language": "en", "words": 10,
              "path": "a.txt"},
        "b": {"title": "", "source": "", "published": "", "language": "sv", "words": 5, "path": "b.txt"},
        "c": {"title": "New", "source": "Aftonbladet", "published": "2025-11-05", "language": "sv", "words": 7,
              "path": "c.txt"},
    }  # fmt: skip
    rows = article_rows(records)
    assert [r[-1] for r in rows] == ["c", "a", "b"]
    assert rows[2][:4] == ["(untitled)", "", "", "Swedish"]
    stats = index_stats(records, passages=12, claims=4, folder=Path("/nonexistent"))
    assert stats.startswith("**3 articles**, 12 passages, 4 attributed claims")
    assert "Swedish 2, English 1" in stats and "2 outlets" in stats and "2025-11-01 to 2025-11-05" in stats


def test_upload_ingest_then_remove_through_the_ui_functions(tmp_path: Path, make_index: Callable[..., Any]) -> None:
    idx = make_index(tmp_path / "idx")
    upload = tmp_path / "up" / "kupiansk.txt"
    upload.parent.mkdir()
    upload.write_text("Bridge near Kupiansk destroyed\n\nThe last bridge over the Oskil river was destroyed.\n")
    message = add_uploads(idx, [str(upload)])
    assert message.startswith("1 new")
    stored = library_folder(idx) / "kupiansk.txt"
    assert stored.exists() and len(idx.store.article_records()) == 1
    assert remove_article(idx, "") == "Choose an article first: click its row, or type its file or id."
    assert remove_article(idx, "nothing-here.txt").startswith("Nothing was removed")
    (aid,) = idx.store.article_records()
    assert "1 removed" in remove_article(idx, aid)
    assert idx.store.article_records() == {} and not stored.exists()


def test_parse_auth(tmp_path: Path) -> None:
    assert parse_auth(None) is None and parse_auth("  ") is None
    assert parse_auth("ana:s3cret:with:colons") == [("ana", "s3cret:with:colons")]
    users = tmp_path / "users"
    users.write_text("# newsroom\nana:one\n\nben:two\n", encoding="utf-8")
    assert parse_auth(str(users)) == [("ana", "one"), ("ben", "two")]
    with pytest.raises(BadSetting, match="RAG_AUTH: expected USER:PASSWORD"):
        parse_auth("justaname")
    users.write_text("ana:one\nbroken\n", encoding="utf-8")
    with pytest.raises(BadSetting, match="line 2: expected USER:PASSWORD"):
        parse_auth(str(users))


def test_export_holds_questions_answers_and_quoted_sources(seeded: Callable[..., Any]) -> None:
    chat = seeded().chat()
    chat.ask("Who claims Pokrovsk has fallen?", backend="extractive")
    chat.ask("and Myrnohrad?", backend="extractive")
    md = chat.to_markdown()
    assert md.startswith("# Conversation")
    assert "## Who claims Pokrovsk has fallen?" in md and "## and Myrnohrad?" in md
    assert "*Searched for:* Who claims Pokrovsk has fallen? and Myrnohrad?" in md
    first = chat.turns[0].citations[0]
    assert f"characters {first.start}-{first.end}" in md and f"> {first.quote.splitlines()[0]}" in md
    assert "| claims | Igor Mosiychuk |" in md


def test_capable_model_rewrites_follow_ups_and_bad_rewrites_fall_back(seeded: Callable[..., Any]) -> None:
    def reply(prompt: str) -> str:
        if "Rewrite the follow-up question" in prompt:
            return "What is happening in Myrnohrad near Pokrovsk?"
        return "NOT FOUND"

    llm = ScriptedLLM(reply)
    chat = seeded(llm).chat()
    chat.ask("Who claims Pokrovsk has fallen?", backend="extractive")
    assert chat.standalone("and Myrnohrad?") == "What is happening in Myrnohrad near Pokrovsk?"
    condense_prompt = next(p for p in llm.prompts if "Rewrite the follow-up" in p)
    assert "- Who claims Pokrovsk has fallen?" in condense_prompt and "and Myrnohrad?" in condense_prompt
    # The extractive backend asks no model; a rewrite dropping the follow-up's name is not used.
    assert chat.standalone("and Myrnohrad?", backend="extractive") == "Who claims Pokrovsk has fallen? and Myrnohrad?"
    bad = seeded(ScriptedLLM(["What about the city?"])).chat()
    bad.turns = list(chat.turns)
    assert bad.standalone("and Myrnohrad?") == "Who claims Pokrovsk has fallen? and Myrnohrad?"
    assert chat.standalone("What is the population of Toretsk?") == "What is the population of Toretsk?"


def test_remove_takes_one_article_never_a_folder_and_never_deletes_the_users_own_files(
    tmp_path: Path, make_index: Callable[..., Any]
) -> None:
    news = tmp_path / "news"  # the user's own folder, also set as the library folder
    news.mkdir()
    own = news / "own.txt"
    own.write_text("Own story\n\nThe last bridge over the Oskil river near Kupiansk was destroyed on Sunday.\n")
    idx = make_index(tmp_path / "idx", ui={"library": str(news)})
    idx.ingest(news)
    for folder in ("/", ".", str(news)):
        assert remove_article(idx, folder).startswith("Nothing was removed")
    assert len(idx.store.article_records()) == 1
    message = remove_article(idx, str(own))
    assert "1 removed" in message and "uploaded copy" not in message
    assert own.exists()  # not uploaded through the UI: the file stays


def test_folder_upload_counts_only_readable_files_and_long_names_keep_their_type(
    tmp_path: Path, make_index: Callable[..., Any]
) -> None:
    idx = make_index(tmp_path / "idx", ui={"max_upload_files": 2})
    up = tmp_path / "up"
    up.mkdir()
    (up / "a.txt").write_text("Kupiansk\n\nThe bridge over the Oskil river was destroyed on Sunday.\n")
    for i in range(3):
        (up / f"photo{i}.jpg").write_bytes(b"\xff\xd8")
    message = add_uploads(idx, [str(p) for p in sorted(up.iterdir())])
    assert message.startswith("1 new") and "skipped 3 files of types ingest does not read" in message
    assert safe_name("x" * 300 + ".txt").endswith(".txt") and len(safe_name("x" * 300 + ".txt")) == 150
    with pytest.raises(BadSetting, match="no such file"):
        parse_auth("/run/secrets/rag:auth")
