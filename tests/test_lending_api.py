"""Lending API: borrow, return, renew, list, reservations and member verification."""
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.library import api_lending
from app.library.models import Book, Loan, Reservation, User
from app.library.services import lending
from tests.factories import Factory, login

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def app_config():
    return {"LOAN_LIMIT": 3, "LOAN_DAYS": 14, "FINE_PER_DAY_CENTS": 25}


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    """The lending API's clock, set by the test."""
    fake = Clock(T0)
    monkeypatch.setattr(api_lending, "utcnow", fake)
    return fake


class Seed:
    """Creates rows and reads them back in short app contexts of their own.

    (The shared `make` fixture keeps an app context pushed for the whole test,
    and test-client requests then share its `g` and database session, so a
    second client would see the first one's cached user.)
    """

    def __init__(self, app):
        self.app = app
        self.factory = Factory()

    def __call__(self, kind, *args, **fields):
        with self.app.app_context():
            return getattr(self.factory, kind)(*args, **fields).id

    def query(self, read):
        with self.app.app_context():
            return read()


@pytest.fixture
def seed(app):
    return Seed(app)


def signed_in(app, username):
    client = app.test_client()
    response = login(client, username)
    assert response.status_code == 200, response.get_json()
    return client


def available(seed, book_id):
    return seed.query(lambda: db.session.get(Book, book_id).available_copies)


def counts(seed):
    return seed.query(lambda: (db.session.scalar(db.select(db.func.count(Loan.id))),
                               db.session.scalar(db.select(db.func.count(Reservation.id)))))


# --- borrowing -------------------------------------------------------------------

def test_borrow_returns_the_loan_and_takes_a_copy(app, seed, clock):
    user = seed("user", "ann")
    seed("book", "Dune", id=7, copies=2)
    response = signed_in(app, "ann").post("/api/loans", json={"book_id": 7})
    assert response.status_code == 201
    assert response.get_json() == {
        "id": 1, "book_id": 7, "user_id": user, "borrowed_at": "2024-03-01T12:00:00Z",
        "due_at": "2024-03-15T12:00:00Z", "returned_at": None, "status": "active", "overdue": False,
        "renewals": 0, "fine_cents": 0,
    }
    assert available(seed, 7) == 1


def test_borrow_refusals(app, seed, clock):
    seed("user", "ann")
    sus = seed("user", "sus", account_status="suspended")
    for book_id in (1, 2, 3, 4):
        seed("book", id=book_id)
    seed("book", id=5, copies=1, available=0)
    ann = signed_in(app, "ann")
    assert ann.post("/api/loans", json={"book_id": 1}).status_code == 201

    again = ann.post("/api/loans", json={"book_id": 1})
    assert (again.status_code, again.get_json()["error"]["message"]) == (409, "You already have book 1 on loan")
    none_left = ann.post("/api/loans", json={"book_id": 5})
    assert (none_left.status_code, none_left.get_json()["error"]["message"]) == (
        409, "No copy of book 5 is available")
    unknown = ann.post("/api/loans", json={"book_id": 404})
    assert (unknown.status_code, unknown.get_json()["error"]["message"]) == (404, "Book 404 not found")

    assert ann.post("/api/loans", json={"book_id": 2}).status_code == 201
    assert ann.post("/api/loans", json={"book_id": 3}).status_code == 201
    over = ann.post("/api/loans", json={"book_id": 4})
    assert over.status_code == 409
    assert over.get_json()["error"] == {"code": 409, "message": "Loan limit reached: 3 of 3 loans active",
                                        "active_loans": 3, "loan_limit": 3}
    assert available(seed, 4) == 1

    # A suspended member's session stops counting as signed in (UserMixin.is_authenticated
    # follows is_active); staff lending to them meet the rule itself.
    sus_client = app.test_client()

    def set_status(status):
        db.session.execute(db.update(User).filter_by(username="sus").values(account_status=status))
        db.session.commit()

    seed.query(lambda: set_status("active"))
    assert login(sus_client, "sus").status_code == 200
    seed.query(lambda: set_status("suspended"))
    assert sus_client.post("/api/loans", json={"book_id": 4}).status_code == 401
    seed("admin", "boss")
    refused = signed_in(app, "boss").post("/api/loans", json={"book_id": 4, "user_id": sus})
    assert refused.get_json() == {"error": {"code": 403, "message": "The account is suspended", "user_id": sus}}
    assert available(seed, 4) == 1
    assert counts(seed) == (3, 0)


def test_suspended_member_is_refused_by_the_service(app, seed):
    user = seed("user", "sus", account_status="suspended")
    seed("book", id=1)
    with pytest.raises(lending.Forbidden, match="suspended"):
        seed.query(lambda: lending.borrow(user, 1, T0, lending.Rules()))
    assert available(seed, 1) == 1


def test_anonymous_borrow_is_401(app, seed):
    seed("book", id=1)
    response = app.test_client().post("/api/loans", json={"book_id": 1})
    assert response.status_code == 401
    assert response.get_json() == {"error": {"code": 401, "message": "Authentication required"}}


def test_only_staff_may_set_due_at_or_lend_to_someone_else(app, seed, clock):
    ann = seed("user", "ann")
    bob_id = seed("user", "bob")
    seed("admin", "boss")
    seed("book", id=1, copies=3)
    member = signed_in(app, "ann")
    refused = member.post("/api/loans", json={"book_id": 1, "due_at": "2024-04-01T00:00:00Z"})
    assert (refused.status_code, refused.get_json()["error"]["message"]) == (403, "Only staff may set due_at")
    refused = member.post("/api/loans", json={"book_id": 1, "user_id": bob_id})
    assert (refused.status_code, refused.get_json()["error"]["message"]) == (
        403, "Only staff may lend to another member")
    assert available(seed, 1) == 3

    staff = signed_in(app, "boss")
    lent = staff.post("/api/loans", json={"book_id": 1, "user_id": ann, "due_at": "2024-04-01T09:00:00+02:00"})
    assert lent.status_code == 201
    assert (lent.get_json()["user_id"], lent.get_json()["due_at"]) == (ann, "2024-04-01T07:00:00Z")


def test_an_unexpected_failure_mid_borrow_writes_nothing(app, seed, clock, monkeypatch):
    seed("user", "ann")
    seed("book", id=1, copies=2)
    client = signed_in(app, "ann")

    def broken_loan(**_fields):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(lending, "Loan", broken_loan)
    response = client.post("/api/loans", json={"book_id": 1})
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": 500, "message": "Internal server error"}}
    assert available(seed, 1) == 2  # the copy taken before the failure was rolled back
    assert counts(seed) == (0, 0)


# --- returning -------------------------------------------------------------------

def test_return_on_time_and_twice(app, seed, clock):
    seed("user", "ann")
    seed("book", id=1)
    client = signed_in(app, "ann")
    loan_id = client.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    clock.now = T0 + timedelta(days=14)  # exactly at the due instant: not late
    returned = client.post(f"/api/loans/{loan_id}/return")
    assert returned.status_code == 200
    body = returned.get_json()
    assert (body["status"], body["returned_at"], body["fine_cents"], body["overdue"]) == (
        "returned", "2024-03-15T12:00:00Z", 0, False)
    assert available(seed, 1) == 1
    twice = client.post(f"/api/loans/{loan_id}/return")
    assert twice.status_code == 409
    assert twice.get_json()["error"]["message"] == f"Loan {loan_id} is not active (already returned)"
    assert available(seed, 1) == 1


@pytest.mark.parametrize("late, fine", [
    (timedelta(microseconds=1), 25),
    (timedelta(days=1), 25),
    (timedelta(days=1, seconds=1), 50),
    (timedelta(days=10), 250),
])
def test_late_return_is_fined_per_started_day(app, seed, clock, late, fine):
    seed("user", "ann")
    seed("book", id=1)
    client = signed_in(app, "ann")
    loan_id = client.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    clock.now = T0 + timedelta(days=14) + late
    assert client.post(f"/api/loans/{loan_id}/return").get_json()["fine_cents"] == fine


def test_return_by_another_member_is_403_but_staff_may(app, seed, clock):
    seed("user", "ann")
    seed("user", "bob")
    seed("admin", "boss")
    seed("book", id=1)
    loan_id = signed_in(app, "ann").post("/api/loans", json={"book_id": 1}).get_json()["id"]
    refused = signed_in(app, "bob").post(f"/api/loans/{loan_id}/return")
    assert (refused.status_code, refused.get_json()["error"]["message"]) == (
        403, f"Loan {loan_id} belongs to another member")
    assert available(seed, 1) == 0
    assert signed_in(app, "boss").post(f"/api/loans/{loan_id}/return").status_code == 200
    assert available(seed, 1) == 1
    missing = signed_in(app, "bob").post("/api/loans/999/return")
    assert (missing.status_code, missing.get_json()["error"]["message"]) == (404, "Loan 999 not found")


# --- renewing --------------------------------------------------------------------

def test_renew_twice_then_refused(app, seed, clock):
    seed("user", "ann")
    seed("book", id=1)
    client = signed_in(app, "ann")
    loan_id = client.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    first = client.post(f"/api/loans/{loan_id}/renew").get_json()
    assert (first["due_at"], first["renewals"]) == ("2024-03-29T12:00:00Z", 1)
    second = client.post(f"/api/loans/{loan_id}/renew").get_json()
    assert (second["due_at"], second["renewals"]) == ("2024-04-12T12:00:00Z", 2)
    third = client.post(f"/api/loans/{loan_id}/renew")
    assert (third.status_code, third.get_json()["error"]["message"]) == (
        409, f"Loan {loan_id} was already renewed 2 times (maximum 2)")
    assert seed.query(lambda: db.session.get(Loan, loan_id).renewals) == 2


def test_renew_refused_when_overdue_or_others_wait(app, seed, clock):
    seed("user", "ann")
    seed("user", "bob")
    seed("book", id=1)
    seed("book", id=2)
    ann = signed_in(app, "ann")
    late_id = ann.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    wanted_id = ann.post("/api/loans", json={"book_id": 2}).get_json()["id"]
    assert signed_in(app, "bob").post("/api/reservations", json={"book_id": 2}).status_code == 201

    wanted = ann.post(f"/api/loans/{wanted_id}/renew")
    assert (wanted.status_code, wanted.get_json()["error"]["message"]) == (
        409, "1 other member(s) are waiting for this book")

    clock.now = T0 + timedelta(days=14, microseconds=1)
    late = ann.post(f"/api/loans/{late_id}/renew")
    assert (late.status_code, late.get_json()["error"]["message"]) == (
        409, f"Loan {late_id} is overdue and cannot be renewed; return it instead")
    assert seed.query(lambda: db.session.scalars(db.select(Loan.renewals).order_by(Loan.id)).all()) == [0, 0]


# --- listing ---------------------------------------------------------------------

def test_list_own_loans_and_staff_sees_all_with_filters(app, seed, clock):
    ann = seed("user", "ann")
    bob = seed("user", "bob")
    seed("admin", "boss")
    for book_id in (1, 2, 3):
        seed("book", id=book_id)
    a = signed_in(app, "ann")
    b = signed_in(app, "bob")
    a1 = a.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    clock.now = T0 + timedelta(days=1)
    a2 = a.post("/api/loans", json={"book_id": 2}).get_json()["id"]
    clock.now = T0 + timedelta(days=2)
    b3 = b.post("/api/loans", json={"book_id": 3}).get_json()["id"]
    a.post(f"/api/loans/{a2}/return")
    clock.now = T0 + timedelta(days=14, hours=1)  # a1 is overdue, b3 is not yet

    def ids(client, query=""):
        response = client.get("/api/loans" + query)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        return [item["id"] for item in body["items"]], body["total"]

    assert ids(a) == ([a2, a1], 2)
    assert ids(a, "?status=active") == ([a1], 1)
    assert ids(a, "?overdue=true") == ([a1], 1)
    assert ids(a, "?overdue=false") == ([a2], 1)
    staff = signed_in(app, "boss")
    assert ids(staff) == ([b3, a2, a1], 3)
    assert ids(staff, f"?user_id={bob}") == ([b3], 1)
    assert ids(staff, "?overdue=true") == ([a1], 1)
    assert ids(staff, "?per_page=2&page=2") == ([a1], 3)
    overdue_item = staff.get("/api/loans?overdue=true").get_json()["items"][0]
    assert overdue_item["overdue"] is True
    refused = a.get(f"/api/loans?user_id={bob}")
    assert (refused.status_code, refused.get_json()["error"]["message"]) == (
        403, "Only staff may list other members' loans")
    assert ids(a, f"?user_id={ann}") == ([a2, a1], 2)


# --- reservations ----------------------------------------------------------------

def test_reservation_queue_positions_and_cancel(app, seed, clock):
    for name in ("ann", "bob", "cat", "dan"):
        seed("user", name)
    seed("book", id=1, copies=1, available=0)
    clients = {name: signed_in(app, name) for name in ("ann", "bob", "cat")}
    made = {}
    for minute, name in enumerate(("ann", "bob", "cat")):
        clock.now = T0 + timedelta(minutes=minute)
        response = clients[name].post("/api/reservations", json={"book_id": 1})
        assert response.status_code == 201
        made[name] = response.get_json()
    assert [made[n]["position"] for n in ("ann", "bob", "cat")] == [1, 2, 3]
    assert made["ann"]["status"] == "waiting" and made["ann"]["book_id"] == 1
    assert made["ann"]["created_at"] == "2024-03-01T12:00:00Z"

    dup = clients["bob"].post("/api/reservations", json={"book_id": 1})
    assert (dup.status_code, dup.get_json()["error"]["message"]) == (409, "You are already waiting for book 1")

    other = signed_in(app, "dan").post(f"/api/reservations/{made['ann']['id']}/cancel")
    assert other.status_code == 403
    cancelled = clients["ann"].post(f"/api/reservations/{made['ann']['id']}/cancel")
    assert (cancelled.status_code, cancelled.get_json()["status"]) == (200, "cancelled")
    again = clients["ann"].post(f"/api/reservations/{made['ann']['id']}/cancel")
    assert (again.status_code, again.get_json()["error"]["message"]) == (
        409, f"Reservation {made['ann']['id']} is not waiting (already cancelled)")

    listed = clients["cat"].get("/api/reservations").get_json()
    assert [(i["id"], i["position"]) for i in listed["items"]] == [(made["cat"]["id"], 2)]
    assert listed["total"] == 1
    own = clients["ann"].get("/api/reservations").get_json()["items"]
    assert [(i["status"], i["position"]) for i in own] == [("cancelled", None)]


def test_returned_copy_goes_to_the_first_in_the_queue(app, seed, clock):
    for name in ("ann", "bob", "cat"):
        seed("user", name)
    seed("book", id=1, copies=1)
    ann, bob, cat = (signed_in(app, n) for n in ("ann", "bob", "cat"))
    loan_id = ann.post("/api/loans", json={"book_id": 1}).get_json()["id"]
    holding = ann.post("/api/reservations", json={"book_id": 1})
    assert (holding.status_code, holding.get_json()["error"]["message"]) == (
        409, "You already have book 1 on loan")
    bob_res = bob.post("/api/reservations", json={"book_id": 1}).get_json()
    ann.post(f"/api/loans/{loan_id}/return")
    assert available(seed, 1) == 1

    jumped = cat.post("/api/loans", json={"book_id": 1})
    assert (jumped.status_code, jumped.get_json()["error"]["message"]) == (
        409, "No copy of book 1 is free: 1 member(s) reserved it before you")
    assert bob.post("/api/loans", json={"book_id": 1}).status_code == 201
    assert seed.query(lambda: db.session.get(Reservation, bob_res["id"]).status) == "fulfilled"
    assert available(seed, 1) == 0


def test_reserve_unknown_book_is_404_and_anonymous_is_401(app, seed):
    seed("user", "ann")
    response = signed_in(app, "ann").post("/api/reservations", json={"book_id": 42})
    assert (response.status_code, response.get_json()["error"]["message"]) == (404, "Book 42 not found")
    assert app.test_client().get("/api/reservations").status_code == 401
    assert counts(seed) == (0, 0)


# --- member verification ---------------------------------------------------------

def test_staff_verify_members_and_list_the_backlog(app, seed, clock):
    early = seed("user", "early", identity_verification="pending",
                      verification_requested_at=T0 - timedelta(days=3))
    late = seed("user", "late", professional_verification="pending", identity_verification="approved",
                     verification_requested_at=T0 - timedelta(days=1))
    seed("user", "done", identity_verification="approved", professional_verification="approved")
    seed("admin", "boss", identity_verification="approved", professional_verification="approved")
    staff = signed_in(app, "boss")

    listed = staff.get("/api/members?verification=pending").get_json()
    assert [i["username"] for i in listed["items"]] == ["early", "late"]
    assert listed["total"] == 2
    assert "email" not in listed["items"][0]
    assert listed["items"][0]["verification_requested_at"] == "2024-02-27T12:00:00Z"
    only_identity = staff.get("/api/members?verification=pending&kind=identity").get_json()
    assert [i["username"] for i in only_identity["items"]] == ["early"]

    decided = staff.post(f"/api/members/{early}/verification", json={"kind": "identity", "status": "approved"})
    assert decided.status_code == 200
    body = decided.get_json()
    assert (body["email_verification"], body["identity_verification"], body["professional_verification"]) == (
        "approved", "approved", "pending")
    assert [i["username"] for i in staff.get("/api/members?verification=pending").get_json()["items"]] == [
        "early", "late"]  # early still waits for the professional check
    staff.post(f"/api/members/{early}/verification", json={"kind": "professional", "status": "rejected"})
    assert [i["username"] for i in staff.get("/api/members?verification=pending").get_json()["items"]] == ["late"]
    assert [i["username"] for i in staff.get("/api/members?verification=rejected").get_json()["items"]] == [
        "early"]

    member = signed_in(app, "late")
    assert member.get("/api/members").status_code == 403
    refused = member.post(f"/api/members/{late}/verification", json={"kind": "professional",
                                                                      "status": "approved"})
    assert refused.status_code == 403
    assert seed.query(lambda: db.session.get(User, late).professional_verification) == "pending"
    assert app.test_client().get("/api/members").status_code == 401
    missing = staff.post("/api/members/999/verification", json={"kind": "email", "status": "approved"})
    assert (missing.status_code, missing.get_json()["error"]["message"]) == (404, "Member 999 not found")


def test_fine_rule():
    due = datetime(2024, 3, 11, 7, 30, tzinfo=timezone.utc)
    assert lending.fine_for(due, due, 25) == 0
    assert lending.fine_for(due, due - timedelta(days=3), 25) == 0
    assert lending.fine_for(due, due + timedelta(microseconds=1), 25) == 25
    assert lending.fine_for(due, due + timedelta(days=2), 25) == 50
    assert lending.fine_for(due, due + timedelta(days=2, microseconds=1), 25) == 75
