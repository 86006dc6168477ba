"""Finding and reading files, and every kind of bad input."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from rag.config import IngestSettings, JsonFields
from rag.ingest.load import RawDocument, find_files, parse_file, read_bytes, read_document
from rag.types import FileProblem

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


# --- find_files / read_document: bad input ------------------------------------------------------


def _only_problem(items: list[Path | FileProblem]) -> FileProblem:
    assert len(items) == 1, items
    assert isinstance(items[0], FileProblem), items
    return items[0]


def test_missing_path_is_a_problem(tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    p = _only_problem(list(find_files([missing])))
    assert p.path == str(missing)
    assert str(p) == f"{missing}: no such file or folder"


def test_folder_without_supported_files_is_a_problem(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    (folder / "notes.odt").write_bytes(b"PK")
    (folder / ".hidden.txt").write_text("hidden text")
    p = _only_problem(list(find_files([folder])))
    assert str(p).startswith(f"{folder}: ")
    assert "no supported files" in p.reason and ".txt" in p.reason


def test_unsupported_suffix_is_a_problem(tmp_path: Path) -> None:
    odt = tmp_path / "report.odt"
    odt.write_bytes(b"PK")
    p = _only_problem(list(find_files([odt])))
    assert str(p) == f"{odt}: unsupported file type '.odt'"


def test_folder_is_searched_recursively_sorted_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/z.txt", "a.HTML", "b/c.md", "skip.odt", ".git/x.txt", "d.htm"):
        (tmp_path / name).write_text("text")
    found = list(find_files([tmp_path]))
    assert found == [tmp_path / "a.HTML", tmp_path / "b/c.md", tmp_path / "b/z.txt", tmp_path / "d.htm"]


def test_binary_file_renamed_txt_is_a_problem(tmp_path: Path) -> None:
    fake = tmp_path / "photo.txt"
    fake.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00")
    p = read_document(fake)
    assert isinstance(p, FileProblem)
    assert str(p).startswith(f"{fake}: ")
    assert "binary" in p.reason


def test_invalid_utf8_is_a_problem(tmp_path: Path) -> None:
    latin = tmp_path / "latin1.txt"
    latin.write_bytes("Café in Malmö".encode("latin-1"))
    p = read_document(latin)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{latin}: invalid UTF-8 (byte 0xe9 at offset 3)"


@pytest.mark.parametrize("content", [b"", b"   \n\n\t ", b"\xef\xbb\xbf\n"])
def test_empty_file_is_a_problem(tmp_path: Path, content: bytes) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(content)
    p = read_document(empty)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{empty}: empty file"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root can read a chmod 000 file")
def test_unreadable_file_is_a_problem(tmp_path: Path) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret article text.")
    locked.chmod(0)
    try:
        p = read_document(locked)
    finally:
        locked.chmod(0o644)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{locked}: permission denied"


def test_unreadable_file_is_a_problem_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = tmp_path / "locked.txt"
    locked.write_text("Secret article text.")

    def deny(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", deny)
    p = read_document(locked)
    assert isinstance(p, FileProblem)
    assert str(p) == f"{locked}: permission denied"


def test_too_large_file_is_a_problem(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    big.write_text("x" * 11)
    p = read_document(big, IngestSettings(max_file_mb=0.00001))
    assert isinstance(p, FileProblem)
    assert str(p).startswith(f"{big}: file too large (11 bytes")


def test_good_file_is_read_with_kind_and_bom_removed(tmp_path: Path) -> None:
    good = tmp_path / "story.htm"
    good.write_bytes("\ufeff<p>Kyiv</p>".encode())
    doc = read_document(good)
    assert isinstance(doc, RawDocument)
    assert (doc.kind, doc.text, doc.raw) == ("html", "Kyiv", "\ufeff<p>Kyiv</p>".encode())


# --- find_files: symlinks, filters, duplicates ---------------------------------------------------


def _tree(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("Some article text.")


def test_symlink_loop_is_one_problem_and_the_walk_goes_on(tmp_path: Path) -> None:
    _tree(tmp_path, "news/a.txt", "news/sub/b.txt", "news/sub/z.txt")
    (tmp_path / "news/sub/loop").symlink_to(tmp_path / "news", target_is_directory=True)
    found = list(find_files([tmp_path / "news"]))
    news = tmp_path / "news"
    assert found == [
        news / "a.txt",
        news / "sub/b.txt",
        FileProblem(str(news / "sub/loop"), f"symlink loop: points back to {news.resolve()}"),
        news / "sub/z.txt",
    ]
    assert list(find_files([news], exclude=["sub"])) == [news / "a.txt"]  # nothing reported from skipped folders


def test_symlinks_to_files_and_folders_are_followed_and_each_file_yielded_once(tmp_path: Path) -> None:
    _tree(tmp_path, "elsewhere/x.txt", "elsewhere/deeper/y.md", "news/a.txt")
    news = tmp_path / "news"
    (news / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (news / "x-again.txt").symlink_to(tmp_path / "elsewhere/x.txt")
    found = list(find_files([news, news / "a.txt", tmp_path / "elsewhere"], follow_links=True))
    assert found == [news / "a.txt", news / "linked/deeper/y.md", news / "linked/x.txt"]


def test_symlinks_inside_the_folder_are_followed(tmp_path: Path) -> None:
    _tree(tmp_path, "news/2024/a.txt", "news/b.txt")
    news = tmp_path / "news"
    (news / "latest").symlink_to(news / "2024", target_is_directory=True)
    (news / "c.txt").symlink_to(news / "b.txt")
    assert list(find_files([news / "latest", news / "c.txt"])) == [news / "latest/a.txt", news / "c.txt"]
    assert list(find_files([news])) == [news / "2024/a.txt", news / "b.txt"]  # each file once


def test_symlinks_leaving_the_folder_are_skipped_with_the_reason(tmp_path: Path) -> None:
    _tree(tmp_path, "elsewhere/x.txt", "news/a.txt")
    news = tmp_path / "news"
    (news / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (news / "notes.txt").symlink_to("/etc/shadow")
    found = list(find_files([news]))
    outside = "outside the folder being ingested; skipped (--follow-links reads it)"
    assert found == [
        news / "a.txt",
        FileProblem(str(news / "linked"), f"symbolic link to {tmp_path.resolve() / 'elsewhere'}, {outside}"),
        FileProblem(str(news / "notes.txt"), f"symbolic link to /etc/shadow, {outside}"),
    ]
    # Named directly, a link is what the user chose: it is read.
    assert list(find_files([news / "notes.txt"])) == [news / "notes.txt"]


def test_file_name_that_is_not_utf8_is_a_problem_and_a_newline_in_a_name_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "news"
    folder.mkdir()
    os.close(os.open(os.fsencode(folder) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY))
    (folder / "two\nlines.txt").write_text("Text.")
    found = list(find_files([folder]))
    bad = next(f for f in found if isinstance(f, FileProblem))
    assert bad.reason == "file name is not valid UTF-8; rename the file to index it"
    assert str(bad).startswith(f"{folder}/bad\\xff.txt: ")  # printable: the byte shown as \xff
    assert folder / "two\nlines.txt" in found
    assert str(FileProblem(str(folder / "two\nlines.txt"), "x")) == f"{folder}/two\\nlines.txt: x"


def test_broken_and_self_referring_symlinks_are_problems(tmp_path: Path) -> None:
    _tree(tmp_path, "news/a.txt")
    news = tmp_path / "news"
    (news / "gone.txt").symlink_to(tmp_path / "deleted.txt")
    (news / "self.md").symlink_to(news / "self.md")
    (news / "ignored.lock").symlink_to(tmp_path / "deleted.lock")  # unsupported: not worth a report
    assert list(find_files([news])) == [
        news / "a.txt",
        FileProblem(str(news / "gone.txt"), f"broken symlink (target {tmp_path / 'deleted.txt'} does not exist)"),
        FileProblem(str(news / "self.md"), "symlink loop: the link never reaches a file"),
    ]
    assert _only_problem(list(find_files([news / "gone.txt"]))).reason.startswith("broken symlink")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.txt")
    assert (
        str(_only_problem(list(find_files([tmp_path / "pipe.txt"])))) == f"{tmp_path / 'pipe.txt'}: not a regular file"
    )


@pytest.mark.parametrize(
    ("include", "exclude", "expected"),
    [
        ((), (), ["a.html", "b.txt", "drafts/c.html", "news/drafts/d.html", "news/e.html"]),
        (("*.html",), ("drafts/*",), ["a.html", "news/drafts/d.html", "news/e.html"]),
        (("*.html",), ("drafts",), ["a.html", "news/e.html"]),
        (("news/*",), ("*/drafts",), ["news/e.html"]),
        (("b.txt", "e.*"), (), ["b.txt", "news/e.html"]),
    ],
)
def test_include_and_exclude_globs(
    tmp_path: Path, include: tuple[str, ...], exclude: tuple[str, ...], expected: list[str]
) -> None:
    _tree(tmp_path, "a.html", "b.txt", "drafts/c.html", "news/drafts/d.html", "news/e.html")
    found = list(find_files([tmp_path], include=include, exclude=exclude))
    assert found == [tmp_path / name for name in expected]


def test_filters_that_leave_nothing_are_a_problem_and_apply_to_files_named_directly(tmp_path: Path) -> None:
    _tree(tmp_path, "a.txt", "b.txt")
    p = _only_problem(list(find_files([tmp_path], include=["*.pdf"])))
    assert str(p) == f"{tmp_path}: no supported file in the folder matches --include/--exclude"
    assert list(find_files([tmp_path / "a.txt", tmp_path / "b.txt"], exclude=["a.*"])) == [tmp_path / "b.txt"]


def test_every_supported_suffix_is_found_case_insensitively(tmp_path: Path) -> None:
    names = ["a.TXT", "b.md", "c.html", "d.HTM", "e.pdf", "f.json", "g.JSONL", "h.docx", "i.doc", "j.odt"]
    _tree(tmp_path, *names)
    assert [p.name for p in find_files([tmp_path]) if isinstance(p, Path)] == names[:8]


# --- read_bytes / parse_file ---------------------------------------------------------------------


def test_50_mb_file_is_too_large_without_being_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    big = tmp_path / "huge.txt"
    with big.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: instant, no disk used

    def never(self: Path) -> bytes:
        raise AssertionError("a file over the limit must not be read")

    monkeypatch.setattr(Path, "read_bytes", never)
    p = read_bytes(big, 20_000_000)
    assert str(p) == f"{big}: file too large (52,428,800 bytes; limit 20,000,000)"
    assert str(read_document(big)) == str(p)


def test_records_files_have_their_own_size_limit(tmp_path: Path) -> None:
    from rag.ingest.load import byte_limit

    settings = IngestSettings(max_file_mb=1, max_records_file_mb=3)
    assert byte_limit(tmp_path / "a.HTML", settings) == 1_000_000
    assert byte_limit(tmp_path / "a.jsonl", settings) == byte_limit(tmp_path / "a.json", settings) == 3_000_000


@pytest.mark.parametrize("name", ["a.txt", "a.html", "a.pdf", "a.docx", "a.json", "a.jsonl"])
def test_empty_file_of_any_kind_is_one_problem(tmp_path: Path, name: str) -> None:
    assert [str(p) for p in parse_file(tmp_path / name, b" \n", IngestSettings())] == [f"{tmp_path / name}: empty file"]


SECOND_KEY = hashlib.sha256(b'{"story": "Second."}').hexdigest()[:12]


def test_parse_file_uses_the_configured_json_fields(tmp_path: Path) -> None:
    settings = IngestSettings(json_fields=JsonFields(text="story", id="uid"))
    raw = b'{"uid": "a1", "story": "First."}\n{"story": "Second."}\n'
    docs = list(parse_file(tmp_path / "x.JSONL", raw, settings))
    assert [(d.location, d.text) for d in docs if isinstance(d, RawDocument)] == [
        (f"{tmp_path / 'x.JSONL'}#a1", "First."),
        (f"{tmp_path / 'x.JSONL'}#sha-{SECOND_KEY}", "Second."),
    ]


def test_read_document_refuses_a_records_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="holds records"):
        read_document(tmp_path / "x.jsonl")
