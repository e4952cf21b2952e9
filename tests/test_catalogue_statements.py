"""SQL statements per catalogue request: a fixed number, whatever the page size (no N+1)."""
import pytest
from sqlalchemy import event

from app.extensions import db
from app.library.models import Author, BookAuthor
from tests.factories import Factory


@pytest.fixture
def catalogue(any_app):
    """25 books titled "Saga <n>", each with two authors, on either database."""
    with any_app.app_context():
        make = Factory()
        authors = [Author(name=f"Author {i}") for i in range(50)]
        db.session.add_all(authors)
        db.session.flush()
        for n in range(25):
            book = make.book(f"Saga {n:02d}", id=n + 1)
            db.session.add_all([BookAuthor(book_id=book.id, author_id=authors[2 * n].id, position=0),
                                BookAuthor(book_id=book.id, author_id=authors[2 * n + 1].id, position=1)])
        db.session.commit()
    return any_app


@pytest.fixture
def statements(catalogue):
    """The statements the app's engine executes, transaction starts left out (SQLite issues
    BEGIN IMMEDIATE through the cursor, PostgreSQL's driver begins implicitly)."""
    seen = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if not statement.startswith("BEGIN"):
            seen.append(" ".join(statement.split()))

    with catalogue.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", listener)
    yield seen
    event.remove(engine, "before_cursor_execute", listener)


@pytest.mark.parametrize("per_page", [5, 20])
def test_search_runs_four_statements_whatever_the_page_size(catalogue, statements, per_page):
    response = catalogue.test_client().get(f"/api/books?q=saga&per_page={per_page}")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["total"] == 25
    assert len(body["items"]) == per_page
    assert body["items"][1]["authors"] == ["Author 2", "Author 3"]
    assert len(statements) == 4, statements
    assert statements[0].startswith("SELECT count(*)")
    assert statements[1].startswith("SELECT books.id")
    assert statements[2].startswith("SELECT book_authors.book_id")  # every page's authors at once
    assert statements[3].startswith("INSERT INTO search_log")


def test_book_detail_runs_three_statements(catalogue, statements):
    response = catalogue.test_client().get("/api/books/7")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["authors"] == ["Author 12", "Author 13"]
    assert body["view_count"] == 1
    assert len(statements) == 3, statements
    assert statements[0].startswith("UPDATE books SET view_count")
    assert statements[1].startswith("SELECT books.id")
    assert statements[2].startswith("SELECT book_authors.book_id")
