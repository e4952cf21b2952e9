"""Malformed input: every case is a 4xx JSON error naming the problem, never a 500, and writes nothing."""
from datetime import timedelta

import pytest

from app.extensions import db
from app.library.models import Book, Loan, Reservation, SearchLog, User
from app.timeutil import utcnow
from tests.conftest import _app_fixture
from tests.factories import Factory, login

BIG = 2**63  # overflows SQLite's driver and PostgreSQL's integer columns

# A due time inside the window staff may use, so the member case fails on who asks, not on when.
IN_A_MONTH = (utcnow() + timedelta(days=30)).isoformat()

CASES = [
    # who, method, path, request kwargs, status, start of the error message
    ("member", "post", "/api/loans", {"json": {}}, 422, "Invalid input: book_id: Missing data for required field."),
    ("member", "post", "/api/loans", {}, 422, "Invalid input: book_id: Missing data for required field."),
    ("member", "post", "/api/loans", {"json": {"book_id": "abc"}}, 422, "Invalid input: book_id: Not a valid integer."),
    ("member", "post", "/api/loans", {"json": {"book_id": "1"}}, 422, "Invalid input: book_id: Not a valid integer."),
    ("member", "post", "/api/loans", {"json": {"book_id": 1.5}}, 422, "Invalid input: book_id: Not a valid integer."),
    ("member", "post", "/api/loans", {"json": {"book_id": True}}, 422, "Invalid input: book_id: Not a valid integer."),
    ("member", "post", "/api/loans", {"json": {"book_id": None}}, 422, "Invalid input: book_id: Field may not be null."),
    ("member", "post", "/api/loans", {"json": {"book_id": 0}}, 422, "Invalid input: book_id: Must be greater than or equal to 1"),
    ("member", "post", "/api/loans", {"json": {"book_id": -5}}, 422, "Invalid input: book_id: Must be greater than or equal to 1"),
    ("member", "post", "/api/loans", {"json": {"book_id": BIG}}, 422, "Invalid input: book_id: Must be greater than or equal to 1 and less than or equal to 2147483647"),
    ("member", "post", "/api/loans", {"json": {"book_id": 99999}}, 404, "Book 99999 not found"),
    ("member", "post", "/api/loans", {"json": {"book_id": 1, "copies": 9}}, 422, "Invalid input: copies: Unknown field."),
    ("member", "post", "/api/loans", {"json": [1]}, 422, "Invalid input: body: The JSON body must be an object, not list"),
    ("member", "post", "/api/loans", {"json": "1"}, 422, "Invalid input: body: The JSON body must be an object, not str"),
    ("member", "post", "/api/loans", {"data": "book_id=1", "content_type": "application/x-www-form-urlencoded"},
     415, "Request body must be application/json (Content-Type was application/x-www-form-urlencoded)"),
    ("member", "post", "/api/loans", {"data": "book_id=1", "content_type": "text/plain"},
     415, "Request body must be application/json (Content-Type was text/plain)"),
    ("member", "post", "/api/loans", {"data": "{book_id: 1", "content_type": "application/json"},
     400, "Request body is not valid JSON"),
    ("member", "post", "/api/loans", {"json": {"book_id": 1, "due_at": IN_A_MONTH}},
     403, "Only staff may set due_at"),
    ("staff", "post", "/api/loans", {"json": {"book_id": 1, "due_at": "tomorrow"}}, 422, "Invalid input: due_at: Not a valid datetime."),
    ("staff", "post", "/api/loans", {"json": {"book_id": 1, "due_at": "2024-03-10T23:30:00"}},
     422, "Invalid input: due_at: Not a valid aware datetime."),
    ("staff", "post", "/api/loans", {"json": {"book_id": 1, "due_at": 1710142200}}, 422, "Invalid input: due_at: Not a valid datetime."),
    ("staff", "post", "/api/loans", {"json": {"book_id": 1, "user_id": 99999}}, 404, "Member 99999 not found"),
    ("anonymous", "post", "/api/loans", {"json": {"book_id": 1}}, 401, "Authentication required"),
    ("member", "post", "/api/loans/99999/return", {}, 404, "Loan 99999 not found"),
    ("member", "post", f"/api/loans/{BIG}/return", {}, 404, f"Loan {BIG} not found"),
    ("member", "post", "/api/loans/abc/return", {}, 404, "The requested URL was not found"),
    ("member", "post", "/api/loans/99999/renew", {}, 404, "Loan 99999 not found"),
    ("member", "post", "/api/loans/1/renew", {"data": "x", "content_type": "text/plain"},
     415, "Request body must be application/json"),
    ("member", "get", "/api/loans?status=late", {}, 422, "Invalid input: status: Must be one of: active, returned, lost, damaged."),
    ("member", "get", "/api/loans?overdue=maybe", {}, 422, "Invalid input: overdue: Not a valid boolean."),
    ("member", "get", "/api/loans?user_id=abc", {}, 422, "Invalid input: user_id: Not a valid integer."),
    ("member", "get", "/api/loans?per_page=1000", {}, 422, "Invalid input: per_page: Must be greater than or equal to 1 and less than or equal to 100."),
    ("anonymous", "get", "/api/books?per_page=1000", {}, 422, "Invalid input: per_page: Must be greater than or equal to 1 and less than or equal to 100."),
    ("anonymous", "get", "/api/books?per_page=0", {}, 422, "Invalid input: per_page: Must be greater than or equal to 1"),
    ("anonymous", "get", "/api/books?page=0", {}, 422, "Invalid input: page: Must be greater than or equal to 1"),
    ("anonymous", "get", "/api/books?page=-1", {}, 422, "Invalid input: page: Must be greater than or equal to 1"),
    ("anonymous", "get", "/api/books?page=abc", {}, 422, "Invalid input: page: Not a valid integer."),
    ("anonymous", "get", f"/api/books?page={BIG}", {}, 422, "Invalid input: page: Must be greater than or equal to 1 and less than or equal to 1000000."),
    ("anonymous", "get", "/api/books?q=" + "x" * 201, {}, 422, "Invalid input: q: Longer than maximum length 200."),
    ("anonymous", "get", "/api/books?q=a%00b", {}, 422, "Invalid input: q: Must not contain control characters."),
    ("anonymous", "get", "/api/books?category=%00", {}, 422, "Invalid input: category: Must not contain control characters."),
    ("anonymous", "get", "/api/books/99999", {}, 404, "Book 99999 not found"),
    ("anonymous", "get", f"/api/books/{BIG}", {}, 404, f"Book {BIG} not found"),
    ("anonymous", "get", "/api/books/-1", {}, 404, "The requested URL was not found"),
    ("anonymous", "get", "/api/books/%E3%83%8A", {}, 404, "The requested URL was not found"),
    ("member", "post", "/api/reservations", {"json": {}}, 422, "Invalid input: book_id: Missing data for required field."),
    ("member", "post", "/api/reservations", {"json": {"book_id": "x"}}, 422, "Invalid input: book_id: Not a valid integer."),
    ("member", "post", "/api/reservations", {"json": {"book_id": 99999}}, 404, "Book 99999 not found"),
    ("member", "post", "/api/reservations/99999/cancel", {}, 404, "Reservation 99999 not found"),
    ("member", "get", "/api/reservations?status=bogus", {}, 422, "Invalid input: status: Must be one of: waiting, fulfilled, cancelled."),
    ("staff", "post", "/api/members/{member}/verification", {"json": {"kind": "dna", "status": "approved"}},
     422, "Invalid input: kind: Must be one of: email, identity, professional."),
    ("staff", "post", "/api/members/{member}/verification", {"json": {"kind": "email", "status": "ok"}},
     422, "Invalid input: status: Must be one of: pending, approved, rejected, expired."),
    ("staff", "post", "/api/members/{member}/verification", {"json": {}},
     422, "Invalid input: kind: Missing data for required field.; status: Missing data for required field."),
    ("staff", "post", "/api/members/99999/verification", {"json": {"kind": "email", "status": "approved"}},
     404, "Member 99999 not found"),
    ("member", "post", "/api/members/{member}/verification", {"json": {"kind": "email", "status": "approved"}},
     403, "Administrator access required"),
    ("staff", "get", "/api/members?verification=nope", {}, 422, "Invalid input: verification: Must be one of: pending, approved, rejected, expired."),
    ("staff", "get", "/api/members?per_page=500", {}, 422, "Invalid input: per_page: Must be greater than or equal to 1 and less than or equal to 100."),
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world_app(request, tmp_path_factory):
    """One app per database for all the cases: each case proves it wrote nothing, so they can share it."""
    yield from _app_fixture(request.param, tmp_path_factory.mktemp(request.param), {})


@pytest.fixture(scope="module")
def world(world_app):
    """A book, a member with one active loan and a reservation, and a staff account."""
    any_app = world_app
    with any_app.app_context():
        make = Factory()
        member = make.user("ann", identity_verification="pending")
        make.admin("boss")
        make.book("Les Misérables", id=1, copies=2)
        make.loan(member, make.book("Dune", id=2, copies=1))
        db.session.add(Reservation(user_id=member.id, book_id=2, status="cancelled"))
        db.session.commit()
        member_id = member.id
    clients = {"anonymous": any_app.test_client()}
    for who, username in (("member", "ann"), ("staff", "boss")):
        clients[who] = any_app.test_client()
        assert login(clients[who], username).status_code == 200
    return any_app, clients, member_id


def snapshot(app):
    """Everything a bad request could have changed."""
    with app.app_context():
        scalar = db.session.scalar
        return {
            "loans": scalar(db.select(db.func.count(Loan.id))),
            "active": scalar(db.select(db.func.count(Loan.id)).where(Loan.status == "active")),
            "renewals": scalar(db.select(db.func.sum(Loan.renewals))),
            "reservations": db.session.execute(db.select(Reservation.id, Reservation.status)).all(),
            "searches": scalar(db.select(db.func.count(SearchLog.id))),
            "available": scalar(db.select(db.func.sum(Book.available_copies))),
            "views": scalar(db.select(db.func.sum(Book.view_count))),
            "verification": db.session.execute(db.select(
                User.id, User.email_verification, User.identity_verification, User.professional_verification)
                .order_by(User.id)).all(),
        }


@pytest.mark.parametrize("who, method, path, kwargs, status, message", CASES,
                         ids=[f"{c[1]} {c[2][:60]} {str(c[3])[:40]}" for c in CASES])
def test_bad_input_is_a_named_4xx_and_writes_nothing(world, who, method, path, kwargs, status, message):
    app, clients, member_id = world
    before = snapshot(app)
    response = getattr(clients[who], method)(path.format(member=member_id), **kwargs)
    body = response.get_json()
    assert response.status_code == status, body
    assert response.mimetype == "application/json"
    assert body["error"]["code"] == status
    assert body["error"]["message"].startswith(message), body["error"]["message"]
    assert snapshot(app) == before


@pytest.mark.parametrize("q, titles", [
    ("' OR 1=1 --", []),
    ("1; DROP TABLE books; --", []),
    ("%", []),
    ("_", []),
    ("misérables", ["Les Misérables"]),
    ("ナルト", []),
])
def test_sql_looking_and_non_ascii_search_text_is_plain_text(any_app, q, titles):
    app = any_app
    with app.app_context():
        make = Factory()
        make.book("Les Misérables", id=1)
        make.book("Dune", id=2)
    response = app.test_client().get("/api/books", query_string={"q": q})
    assert response.status_code == 200
    assert [item["title"] for item in response.get_json()["items"]] == titles
    with app.app_context():
        rows = db.session.execute(db.select(SearchLog.query, SearchLog.result_count)).all()
        assert [tuple(r) for r in rows] == [(q, len(titles))]
        assert db.session.scalar(db.select(db.func.count(Book.id))) == 2
