"""Catalogue search and book detail."""
import re
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload, selectinload

from ...extensions import db
from ..models import Author, Book, BookAuthor, Category, SearchLog
from . import NotFound


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lower_function(text: str):
    """A SQL `lower` that folds every letter `text` can contain, on either database.

    SQLite's built-in lower() folds ASCII only ("É" stays "É"). That is enough
    for ASCII-only text, which cannot match a non-ASCII letter anyway, and is
    far faster than a Python call per row; for other text a Python lower is
    registered on the current connection. PostgreSQL's lower() follows the
    database's UTF-8 locale.
    """
    connection = db.session.connection()
    if connection.dialect.name != "sqlite" or text.isascii():
        return func.lower
    connection.connection.driver_connection.create_function(
        "unicode_lower", 1, lambda value: value.lower() if isinstance(value, str) else value,
        deterministic=True)
    return func.unicode_lower


def _search_conditions(q: str | None, category: str | None) -> list:
    conditions = []
    if q:
        lower = _lower_function(q)
        pattern = f"%{_escape_like(q.lower())}%"
        by_author = (select(BookAuthor.book_id)
                     .join(Author, Author.id == BookAuthor.author_id)
                     .where(lower(Author.name).like(pattern, escape="\\")))
        conditions.append(lower(Book.title).like(pattern, escape="\\") | Book.id.in_(by_author))
    if category:
        lower = _lower_function(category)
        conditions.append(Book.category_id.in_(
            select(Category.id).where(lower(Category.name) == category.lower())))
    return conditions


def search_books(q: str | None, category: str | None, page: int, per_page: int) -> tuple[list[Book], int]:
    """One page of books matching `q` (title or author) and `category`, and the total.

    Ordered by title, then id, so pages are stable.
    """
    conditions = _search_conditions(q, category)
    total = db.session.execute(select(func.count()).select_from(Book).where(*conditions)).scalar_one()
    books = db.session.execute(
        select(Book)
        .options(selectinload(Book.book_authors).joinedload(BookAuthor.author), joinedload(Book.category))
        .where(*conditions)
        .order_by(Book.title, Book.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    ).scalars().all()
    return list(books), total


# Anything shaped like an e-mail address: searches are shown in the monitoring's
# top queries, which must carry no personal data.
EMAIL_LIKE = re.compile(r"[^\s@]+@[^\s@]+")


def log_search(query: str, result_count: int, user_id: int | None, now: datetime) -> None:
    """Record one search for the analytics, e-mail addresses redacted (the caller commits)."""
    query = EMAIL_LIKE.sub("<email>", query)[:200]
    db.session.add(SearchLog(query=query, result_count=result_count, user_id=user_id, created_at=now))


def view_book(book_id: int) -> Book:
    """The book, after counting one view with an atomic increment (caller commits)."""
    result = db.session.execute(
        update(Book).where(Book.id == book_id).values(view_count=Book.view_count + 1)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise NotFound(f"Book {book_id} not found", book_id=book_id)
    return db.session.execute(
        select(Book).where(Book.id == book_id)
        .options(selectinload(Book.book_authors).joinedload(BookAuthor.author), joinedload(Book.category))
        .execution_options(populate_existing=True)
    ).scalar_one()


def book_summary(book: Book) -> dict:
    """The fields every book listing shows."""
    return {
        "id": book.id,
        "title": book.title,
        "authors": book.author_names,
        "category": book.category.name if book.category else None,
        "publication_year": book.publication_year,
        "total_copies": book.total_copies,
        "available_copies": book.available_copies,
    }


def book_detail(book: Book) -> dict:
    """A book's full record for the detail endpoint."""
    return {
        **book_summary(book),
        "original_title": book.original_title,
        "isbn10": book.isbn10,
        "isbn13": book.isbn13,
        "language_code": book.language_code,
        "view_count": book.view_count,
        "image_url": book.image_url,
    }
