"""Catalogue API: search (title/author, case, wildcards, non-ASCII, paging, logging) and book detail."""
import pytest

from app.extensions import db
from app.library.models import Author, BookAuthor, SearchLog
from tests.factories import Factory, login


def add_book(make, title, authors=(), **fields):
    book = make.book(title, **fields)
    for position, name in enumerate(authors):
        author = db.session.execute(db.select(Author).filter_by(name=name)).scalar_one_or_none()
        if author is None:
            author = Author(name=name)
            db.session.add(author)
            db.session.flush()
        db.session.add(BookAuthor(book_id=book.id, author_id=author.id, position=position))
    db.session.commit()
    return book


def titles(response):
    assert response.status_code == 200, response.get_json()
    return [item["title"] for item in response.get_json()["items"]]


@pytest.fixture
def shelf(any_app):
    """A small catalogue on either database."""
    with any_app.app_context():
        make = Factory()
        add_book(make, "Les Misérables", ["Victor Hugo"], category="Classics", id=1)
        add_book(make, "ナルト 1", ["岸本斉史"], category="Manga", id=2)
        add_book(make, "100% Love", ["Ann Percent"], id=3)
        add_book(make, "snake_case for beginners", ["Guido Under"], id=4)
        add_book(make, "The Hunchback of Notre-Dame", ["Victor Hugo"], category="Classics", id=5)
        add_book(make, "Good Omens", ["Terry Pratchett", "Neil Gaiman"], id=6, copies=3, available=2,
                 publication_year=1990)
    return any_app


def test_search_matches_title_and_author_case_insensitively_with_non_ascii(shelf):
    client = shelf.test_client()
    assert titles(client.get("/api/books?q=MISÉRABLES")) == ["Les Misérables"]
    assert titles(client.get("/api/books?q=misérables")) == ["Les Misérables"]
    assert titles(client.get("/api/books?q=hUgO")) == ["Les Misérables", "The Hunchback of Notre-Dame"]
    assert titles(client.get("/api/books?q=ナルト")) == ["ナルト 1"]
    assert titles(client.get("/api/books?q=岸本")) == ["ナルト 1"]
    assert titles(client.get("/api/books?q=gaiman")) == ["Good Omens"]


def test_like_wildcards_and_sql_text_are_matched_literally(shelf):
    client = shelf.test_client()
    assert titles(client.get("/api/books", query_string={"q": "%"})) == ["100% Love"]
    assert titles(client.get("/api/books", query_string={"q": "_"})) == ["snake_case for beginners"]
    assert titles(client.get("/api/books", query_string={"q": "' OR 1=1 --"})) == []
    assert titles(client.get("/api/books", query_string={"q": "\\"})) == []


def test_item_fields_and_total(shelf):
    body = shelf.test_client().get("/api/books?q=omens").get_json()
    assert body == {
        "items": [{"id": 6, "title": "Good Omens", "authors": ["Terry Pratchett", "Neil Gaiman"],
                   "category": "Fiction", "publication_year": 1990, "total_copies": 3, "available_copies": 2}],
        "total": 1, "page": 1, "per_page": 20,
    }


def test_category_filter_by_name(shelf):
    client = shelf.test_client()
    assert titles(client.get("/api/books?category=classics")) == ["Les Misérables", "The Hunchback of Notre-Dame"]
    assert titles(client.get("/api/books?category=Classics&q=hunch")) == ["The Hunchback of Notre-Dame"]
    assert titles(client.get("/api/books?category=No such shelf")) == []


def test_pages_are_stable_by_title_then_id(app, make):
    for book_id in (30, 10, 20):
        make.book("Same title", id=book_id)
    make.book("Another", id=40)
    client = app.test_client()
    pages = [client.get(f"/api/books?per_page=2&page={n}").get_json() for n in (1, 2, 3)]
    assert [[i["id"] for i in p["items"]] for p in pages] == [[40, 10], [20, 30], []]
    assert [p["total"] for p in pages] == [4, 4, 4]
    assert [(p["page"], p["per_page"]) for p in pages] == [(1, 2), (2, 2), (3, 2)]


def test_per_page_over_100_is_refused_naming_per_page(app):
    response = app.test_client().get("/api/books?per_page=101")
    assert response.status_code == 422
    assert response.get_json()["error"]["message"].startswith("Invalid input: per_page:")
    assert app.test_client().get("/api/books?per_page=100").status_code == 200


def test_every_search_with_q_is_logged_trimmed_with_total_and_user(app):
    # Rows are made in an app context of their own so that each client's
    # requests get a fresh context (and so a fresh Flask-Login user).
    with app.app_context():
        make = Factory()
        make.book("Dune", id=1)
        make.book("Dune Messiah", id=2)
        member_id = make.user("reader").id
    anonymous = app.test_client()
    anonymous.get("/api/books?q=%20%20dune%20")
    anonymous.get("/api/books?q=nothing-like-this")
    anonymous.get("/api/books")            # no q: a browse, not a search
    anonymous.get("/api/books?q=%20%20")   # blank q: also not a search
    member = app.test_client()
    assert login(member, "reader").status_code == 200
    member.get("/api/books?q=Messiah")
    with app.app_context():
        rows = db.session.execute(db.select(SearchLog).order_by(SearchLog.id)).scalars().all()
        assert [(r.query, r.result_count, r.user_id) for r in rows] == [
            ("dune", 2, None), ("nothing-like-this", 0, None), ("Messiah", 1, member_id)]


def test_book_detail_counts_each_view(app, make):
    add_book(make, "Good Omens", ["Terry Pratchett", "Neil Gaiman"], id=6, copies=3, available=1,
             isbn10="0060853980", isbn13="9780060853983", publication_year=1990, language_code="eng")
    client = app.test_client()
    first = client.get("/api/books/6").get_json()
    assert first == {
        "id": 6, "title": "Good Omens", "authors": ["Terry Pratchett", "Neil Gaiman"], "category": "Fiction",
        "publication_year": 1990, "total_copies": 3, "available_copies": 1, "original_title": None,
        "isbn10": "0060853980", "isbn13": "9780060853983", "language_code": "eng", "view_count": 1,
        "image_url": None,
    }
    assert client.get("/api/books/6").get_json()["view_count"] == 2


def test_unknown_book_is_404_json_and_counts_nothing(app, make):
    make.book("Only", id=1)
    response = app.test_client().get("/api/books/999")
    assert response.status_code == 404
    assert response.get_json() == {"error": {"code": 404, "message": "Book 999 not found", "book_id": 999}}
    assert app.test_client().get("/api/books/1").get_json()["view_count"] == 1
