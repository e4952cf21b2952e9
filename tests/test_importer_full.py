"""The whole data/goodbooks-10k import, checked against counts recomputed here with the csv module."""
import csv
import unicodedata
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from app.extensions import db
from app.library.importer import run_import
from app.library.importer.genres import TAG_TO_CATEGORY
from app.library.importer.stable import stable_fraction
from app.library.models import Author, Book, BookAuthor, Category, Loan, LoginEvent, Reservation, User
from tests.test_importer import dump_tables, sqlite_app

DATA = Path(__file__).resolve().parent.parent / "data" / "goodbooks-10k"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _read(name):
    with (DATA / name).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _isbn10_ok(value):
    """Independent ISBN-10 test: the weighted digit sum is a multiple of 11."""
    value = value.rjust(10, "0")
    if len(value) != 10 or not value[:9].isdigit() or not (value[9].isdigit() or value[9] == "X"):
        return False
    digits = [int(c) for c in value[:9]] + [10 if value[9] == "X" else int(value[9])]
    return sum(d * w for d, w in zip(digits, range(10, 0, -1))) % 11 == 0


@pytest.fixture(scope="module")
def expected():
    books = _read("books.csv")
    ratings = _read("ratings.csv")
    to_read = _read("to_read.csv")
    tags = {row["tag_id"]: unicodedata.normalize("NFKC", row["tag_name"]).lower() for row in _read("tags.csv")}
    genre_books = {row["goodreads_book_id"] for row in _read("book_tags.csv") if tags[row["tag_id"]] in TAG_TO_CATEGORY}
    names_per_book = {}
    for row in books:
        names = []
        for part in row["authors"].split(","):
            name = " ".join(part.split())
            if name and name != "Unknown" and name not in names:
                names.append(name)
        names_per_book[int(row["book_id"])] = names
    return {
        "books": len(books),
        "readers": len({r["user_id"] for r in ratings} | {r["user_id"] for r in to_read}),
        "rating_loans": len(ratings),
        "queued": sum(stable_fraction("to_read", int(r["user_id"]), int(r["book_id"])) < 0.09 for r in to_read),
        "categorised": sum(row["goodreads_book_id"] in genre_books for row in books),
        "isbn10": sum(_isbn10_ok(row["isbn"]) for row in books if row["isbn"]),
        "no_year": sum(row["original_publication_year"] == "" for row in books),
        "no_language": sum(row["language_code"] == "" for row in books),
        "no_original_title": sum(row["original_title"].strip() == "" for row in books),
        "nophoto": sum("nophoto" in row["image_url"] for row in books),
        "authors": len({name for names in names_per_book.values() for name in names}),
        "book_authors": sum(len(names) for names in names_per_book.values()),
        "names_per_book": names_per_book,
    }


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    app = sqlite_app(tmp_path_factory.mktemp("full") / "library.db")
    with app.app_context():
        result = run_import(DATA, now=NOW)
        db.session.remove()
    yield app, result
    with app.app_context():
        db.engine.dispose()


def _scalar(sql):
    return db.session.execute(text(sql)).scalar()


def check_counts(expected):
    """Row counts and the copies invariant, on whatever database the app uses."""
    assert db.session.scalar(select(func.count()).select_from(Book)) == expected["books"] == 10_000
    assert db.session.scalar(select(func.count()).select_from(User)) == expected["readers"] == 10_788
    assert _scalar("SELECT COUNT(*) FROM loans WHERE status != 'active'") == expected["rating_loans"] == 49_885
    queued = _scalar("SELECT COUNT(*) FROM loans WHERE status = 'active'") + \
        db.session.scalar(select(func.count()).select_from(Reservation))
    assert queued == expected["queued"]
    assert db.session.scalar(select(func.count()).select_from(Author)) == expected["authors"]
    assert db.session.scalar(select(func.count()).select_from(BookAuthor)) == expected["book_authors"]
    # available = total − active loans, for every book, and never out of range.
    assert _scalar("SELECT COUNT(*) FROM books b WHERE b.available_copies != b.total_copies - "
                   "(SELECT COUNT(*) FROM loans l WHERE l.book_id = b.id AND l.status = 'active')") == 0
    assert _scalar("SELECT COUNT(*) FROM books WHERE available_copies < 0 OR available_copies > total_copies") == 0
    assert _scalar("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM loans WHERE status = 'active' "
                   "GROUP BY user_id) t") <= 5
    assert db.session.scalar(select(func.count()).select_from(LoginEvent)) == \
        _scalar("SELECT COUNT(*) FROM users WHERE last_login_at IS NOT NULL")


def test_counts_and_invariants(imported, expected):
    app, result = imported
    with app.app_context():
        check_counts(expected)
        assert result.counts["books"] == 10_000 and result.counts["members"] == 10_788
        uncategorised = db.session.scalar(select(func.count()).select_from(Book).join(Category)
                                          .where(Category.name == "Uncategorized"))
        assert uncategorised == 10_000 - expected["categorised"] == 9_460
        assert _scalar("SELECT COUNT(*) FROM books WHERE isbn10 IS NOT NULL") == expected["isbn10"]
        # Every ISBN-13 is the one derived from the book's ISBN-10 (no valid 13-digit value survives in the file).
        assert _scalar("SELECT COUNT(*) FROM books WHERE isbn13 IS NOT NULL") == expected["isbn10"]
        assert _scalar("SELECT COUNT(*) FROM books WHERE isbn13 IS NOT NULL AND "
                       "substr(isbn13, 4, 9) != substr(isbn10, 1, 9)") == 0
        assert _scalar("SELECT COUNT(*) FROM books WHERE publication_year IS NULL") == expected["no_year"] == 21
        assert _scalar("SELECT COUNT(*) FROM books WHERE publication_year < 0") == 31
        assert _scalar("SELECT COUNT(*) FROM books WHERE language_code IS NULL") == expected["no_language"] == 1084
        assert _scalar("SELECT COUNT(*) FROM books WHERE original_title IS NULL") == expected["no_original_title"]
        assert _scalar("SELECT COUNT(*) FROM books WHERE image_url IS NULL") == expected["nophoto"] == 3332
        assert _scalar("SELECT COUNT(*) FROM users WHERE password_hash IS NOT NULL") == 0
        assert _scalar("SELECT COUNT(*) FROM users WHERE email NOT LIKE 'reader%@members.invalid'") == 0


def test_known_books(imported, expected):
    app, _ = imported
    with app.app_context():
        def book(book_id):
            return db.session.get(Book, book_id)

        assert (book(1).isbn10, book(1).isbn13, book(1).publication_year) == ("0439023483", "9780439023481", 2008)
        assert (book(106).title, book(106).isbn10, book(106).isbn13) == ("Bossypants", None, None)
        assert book(958).isbn13 == "9780553609417"  # its isbn13 field is the 11-digit 76783609419.0
        assert book(2).author_names == ["J.K. Rowling", "Mary GrandPré"]
        assert book(29).author_names == ["William Shakespeare", "Robert Jackson"]
        assert book(531).author_names == ["Seamus Heaney"]
        assert book(6202).author_names == expected["names_per_book"][6202]
        assert len(book(6202).author_names) == 47
        assert (book(79).title, book(79).original_title, book(79).publication_year) == (
            "The Odyssey", "Ὀδύσσεια", -720)
        assert db.session.execute(select(func.min(Book.publication_year))).scalar() == -1750
        assert book(1).category.name == "Uncategorized"  # goodreads id 2767052 is past the book_tags slice


def test_dates(imported):
    app, _ = imported
    with app.app_context():
        first, last = db.session.execute(select(func.min(Loan.borrowed_at), func.max(Loan.returned_at))).one()
        assert first >= NOW - timedelta(days=180 + 45 + 42) and last <= NOW
        rating_first = db.session.execute(select(func.min(Loan.borrowed_at)).where(Loan.status != "active")).scalar()
        assert rating_first == NOW - timedelta(days=180)
        assert _scalar("SELECT COUNT(*) FROM users u WHERE u.created_at >= "
                       "(SELECT MIN(l.borrowed_at) FROM loans l WHERE l.user_id = u.id)") == 0
        assert _scalar("SELECT COUNT(*) FROM users WHERE last_seen_at < last_login_at") == 0
        logins = db.session.execute(select(func.min(User.last_login_at), func.max(User.last_seen_at))).one()
        assert logins[0] >= NOW - timedelta(days=60) and logins[1] <= NOW
        overdue = db.session.scalar(select(func.count()).select_from(Loan)
                                    .where(Loan.status == "active", Loan.due_at < NOW))
        due_soon = db.session.scalar(select(func.count()).select_from(Loan).where(
            Loan.status == "active", Loan.due_at >= NOW, Loan.due_at < NOW + timedelta(days=3)))
        assert overdue > 0 and due_soon > 0


def test_second_import_is_identical_and_rerun_adds_nothing(imported, tmp_path):
    app, _ = imported
    with app.app_context():
        first = dump_tables()
        assert run_import(DATA, now=NOW + timedelta(days=1)).skipped
        assert dump_tables() == first
        db.session.remove()
    other = sqlite_app(tmp_path / "other.db")
    with other.app_context():
        run_import(DATA, now=NOW)
        assert dump_tables() == first
        db.engine.dispose()


def test_full_import_on_postgresql(pg_app, expected):
    with pg_app.app_context():
        result = run_import(DATA, now=NOW)
        assert result.counts["books"] == 10_000
        check_counts(expected)
        # The books id sequence was moved past the imported ids.
        assert db.session.execute(text("SELECT nextval(pg_get_serial_sequence('books', 'id'))")).scalar() == 10_001
