"""Reading the goodbooks-10k CSV files into plain Python values.

The csv module with newline="" reads tags.csv's CRLF line ends like the other
files' LF. Any structural problem raises ImportDataError naming the file and line.
"""
import csv
from dataclasses import dataclass, field
from pathlib import Path

FILES = {
    "books.csv": ("book_id", "goodreads_book_id", "isbn", "isbn13", "authors", "original_publication_year",
                  "original_title", "title", "language_code", "ratings_count", "image_url"),
    "tags.csv": ("tag_id", "tag_name"),
    "book_tags.csv": ("goodreads_book_id", "tag_id", "count"),
    "ratings.csv": ("user_id", "book_id"),
    "to_read.csv": ("user_id", "book_id"),
}


class ImportDataError(Exception):
    """The input folder or one of its files cannot be imported as it is."""


@dataclass
class SourceData:
    """Everything the importer uses, in file order."""

    books: list[dict]
    tags: dict[int, str]
    book_tags: list[tuple[int, int, int]]   # (goodreads_book_id, tag_id, count)
    ratings: list[tuple[int, int]]          # (reader id, book_id), oldest first
    to_read: list[tuple[int, int]]          # (reader id, book_id), oldest first
    skipped: dict[str, int] = field(default_factory=dict)


def check_folder(path) -> Path:
    """The folder as a Path, if it holds every file the import needs."""
    folder = Path(path)
    if not folder.is_dir():
        raise ImportDataError(f"{folder}: not a directory")
    missing = [name for name in FILES if not (folder / name).is_file()]
    if missing:
        raise ImportDataError(f"{folder}: missing {', '.join(missing)}")
    return folder


def _rows(folder: Path, name: str):
    """(line number, row dict) for each data row, after checking the header."""
    path = folder / name
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        header = reader.fieldnames or []
        missing = [column for column in FILES[name] if column not in header]
        if missing:
            raise ImportDataError(f"{path}: header lacks column(s) {', '.join(missing)}")
        try:
            for row in reader:
                yield reader.line_num, row
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ImportDataError(f"{path}, line {reader.line_num}: {exc}") from exc


def _int(name, line, row, column):
    value = (row.get(column) or "").strip()
    try:
        return int(value)
    except ValueError:
        raise ImportDataError(f"{name}, line {line}: {column} {value!r} is not a whole number") from None


def read_source(path, on_file=None) -> SourceData:
    """Read and check the five CSV files of `path`; `on_file(name)` is called after each."""
    folder = check_folder(path)
    books, seen = [], set()
    for line, row in _rows(folder, "books.csv"):
        book_id = _int("books.csv", line, row, "book_id")
        if book_id in seen:
            raise ImportDataError(f"books.csv, line {line}: book_id {book_id} appears twice")
        seen.add(book_id)
        row["book_id"] = book_id
        row["goodreads_book_id"] = _int("books.csv", line, row, "goodreads_book_id")
        books.append(row)
    if not books:
        raise ImportDataError(f"{folder / 'books.csv'}: no books")
    _done(on_file, "books.csv")

    tags = {_int("tags.csv", line, row, "tag_id"): row["tag_name"] for line, row in _rows(folder, "tags.csv")}
    _done(on_file, "tags.csv")
    book_tags = [(_int("book_tags.csv", line, row, "goodreads_book_id"), _int("book_tags.csv", line, row, "tag_id"),
                  _int("book_tags.csv", line, row, "count")) for line, row in _rows(folder, "book_tags.csv")]
    _done(on_file, "book_tags.csv")

    skipped = {}
    interactions = {}
    for name in ("ratings.csv", "to_read.csv"):
        pairs = []
        for line, row in _rows(folder, name):
            pair = (_int(name, line, row, "user_id"), _int(name, line, row, "book_id"))
            if pair[1] in seen:
                pairs.append(pair)
            else:
                skipped[name] = skipped.get(name, 0) + 1  # refers to a book the catalogue lacks
        interactions[name] = pairs
        _done(on_file, name)
    return SourceData(books, tags, book_tags, interactions["ratings.csv"], interactions["to_read.csv"], skipped)


def _done(on_file, name):
    if on_file is not None:
        on_file(name)
