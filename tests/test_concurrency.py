"""Concurrent requests on SQLite and PostgreSQL: copies, loan limits, returns, views, many writers."""
import logging
import threading

import pytest

from app.extensions import db
from app.library.models import Book, Loan, LoanStatus, SearchLog
from tests.factories import Factory, login


@pytest.fixture
def app_config():
    return {"LOAN_LIMIT": 5}


def seed(app, build):
    with app.app_context():
        return build(Factory())


def signed_in(app, username):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 200, response.get_json()
    return client


def race(clients, send):
    """Start one thread per client, release them together, return each response's (status, body)."""
    barrier = threading.Barrier(len(clients))
    results = [None] * len(clients)

    def run(index):
        barrier.wait()
        response = send(clients[index], index)
        results[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert all(result is not None for result in results), "a request did not finish"
    return results


def test_twenty_members_race_for_the_last_copy(any_app):
    book_id = seed(any_app, lambda make: [make.user(f"m{i}") for i in range(20)] and make.book(copies=3,
                                                                                             available=1).id)
    clients = [signed_in(any_app, f"m{i}") for i in range(20)]
    results = race(clients, lambda client, _: client.post("/api/loans", json={"book_id": book_id}))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 19
    assert {body["error"]["message"] for status, body in results if status == 409} == {
        f"No copy of book {book_id} is available"}
    with any_app.app_context():
        assert db.session.get(Book, book_id).available_copies == 0
        assert db.session.scalar(db.select(db.func.count(Loan.id)).where(Loan.status == LoanStatus.ACTIVE)) == 1


def test_one_member_borrowing_twenty_titles_at_once_gets_the_limit(any_app):
    book_ids = seed(any_app, lambda make: make.user("greedy") and [make.book(copies=2).id for _ in range(20)])
    clients = [signed_in(any_app, "greedy") for _ in range(20)]
    results = race(clients, lambda client, i: client.post("/api/loans", json={"book_id": book_ids[i]}))
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 5 + [409] * 15
    assert {body["error"]["message"] for status, body in results if status == 409} == {
        "Loan limit reached: 5 of 5 loans active"}
    with any_app.app_context():
        assert db.session.scalar(db.select(db.func.count(Loan.id)).where(Loan.status == LoanStatus.ACTIVE)) == 5
        assert db.session.scalar(db.select(db.func.sum(Book.available_copies))) == 40 - 5


def test_returning_one_loan_ten_times_at_once_returns_it_once(any_app):
    book_id = seed(any_app, lambda make: make.user("ann") and make.book(copies=1).id)
    first = signed_in(any_app, "ann")
    loan_id = first.post("/api/loans", json={"book_id": book_id}).get_json()["id"]
    clients = [first] + [signed_in(any_app, "ann") for _ in range(9)]
    results = race(clients, lambda client, _: client.post(f"/api/loans/{loan_id}/return"))
    assert sorted(status for status, _ in results) == [200] + [409] * 9
    with any_app.app_context():
        assert db.session.get(Book, book_id).available_copies == 1


def test_twenty_concurrent_views_count_twenty(any_app):
    book_id = seed(any_app, lambda make: make.book().id)
    clients = [any_app.test_client() for _ in range(20)]
    results = race(clients, lambda client, _: client.get(f"/api/books/{book_id}"))
    assert [status for status, _ in results] == [200] * 20
    assert sorted(body["view_count"] for _, body in results) == list(range(1, 21))
    with any_app.app_context():
        assert db.session.get(Book, book_id).view_count == 20


def test_fifty_concurrent_writers_on_sqlite_never_see_database_is_locked(app, caplog):
    def build(make):
        for i in range(25):
            make.user(f"w{i}")
        return make.book("Shared", copies=25).id

    book_id = seed(app, build)
    borrowers = [signed_in(app, f"w{i}") for i in range(25)]
    searchers = [app.test_client() for _ in range(25)]

    def send(client, index):
        if index < 25:  # borrow then return: four writes in two requests
            loan = client.post("/api/loans", json={"book_id": book_id})
            if loan.status_code != 201:
                return loan
            return client.post(f"/api/loans/{loan.get_json()['id']}/return")
        return client.get("/api/books", query_string={"q": f"shared {index}"})  # one SearchLog insert

    caplog.set_level(logging.WARNING)
    results = race(borrowers + searchers, send)
    assert [status for status, _ in results] == [200] * 50, [body for status, body in results if status != 200]
    assert "database is locked" not in caplog.text
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(SearchLog.id))) == 25
        assert db.session.scalar(db.select(db.func.count(Loan.id)).where(Loan.status == LoanStatus.RETURNED)) == 25
        assert db.session.get(Book, book_id).available_copies == 25
