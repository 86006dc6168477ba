"""Finding and reading files, and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rag.ingest.chunk import split_sentences
from rag.ingest.load import RawDocument, find_files, read_document
from rag.types import Article, FileProblem

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def sentences(text: str, offset: int = 0) -> list[str]:
    return [text[s.start - offset : s.end - offset] for s in split_sentences(text, offset=offset)]


def article(text: str, path: str = "/news/a.txt") -> Article:
    return Article(
        id="art1",
        path=path,
        title="T",
        source="S",
        url="",
        published="2025-11-05",
        language="en",
        text=text,
        sha256="x",
    )


def raw(path: Path, text: str, kind: str = "text") -> RawDocument:
    return RawDocument(path=path, kind=kind, text=text, raw=text.encode())


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
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4")
    (folder / ".hidden.txt").write_text("hidden text")
    p = _only_problem(list(find_files([folder])))
    assert str(p).startswith(f"{folder}: ")
    assert "no supported files" in p.reason and ".txt" in p.reason


def test_unsupported_suffix_is_a_problem(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    p = _only_problem(list(find_files([pdf])))
    assert str(p) == f"{pdf}: unsupported file type '.pdf'"


def test_folder_is_searched_recursively_sorted_skipping_hidden_and_unsupported(tmp_path: Path) -> None:
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    for name in ("b/z.txt", "a.HTML", "b/c.md", "skip.pdf", ".git/x.txt", "d.htm"):
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


def test_too_large_file_is_a_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rag.ingest.load as load

    monkeypatch.setattr(load, "MAX_FILE_BYTES", 10)
    big = tmp_path / "big.txt"
    big.write_text("x" * 11)
    p = read_document(big)
    assert isinstance(p, FileProblem)
    assert str(p).startswith(f"{big}: file too large (11 bytes")


def test_good_file_is_read_with_kind_and_bom_removed(tmp_path: Path) -> None:
    good = tmp_path / "story.htm"
    good.write_bytes("\ufeff<p>Kyiv</p>".encode())
    doc = read_document(good)
    assert isinstance(doc, RawDocument)
    assert (doc.kind, doc.text, doc.raw) == ("html", "<p>Kyiv</p>", "\ufeff<p>Kyiv</p>".encode())

