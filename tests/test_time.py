"""UTC instants end to end: an offset due time reads back in UTC and turns overdue at that instant."""
from datetime import datetime, timedelta, timezone

import pytest

from app.extensions import db
from app.library import api_lending
from app.library.models import Loan
from app.library.services import lending
from tests.factories import Factory, login

DUE_GIVEN = "2024-03-10T23:30:00-08:00"
DUE = datetime(2024, 3, 11, 7, 30, tzinfo=timezone.utc)
ONE_MICROSECOND = timedelta(microseconds=1)
INSTANTS = [  # (now, overdue?) — overdue from the due instant itself
    (DUE - ONE_MICROSECOND, False),
    (DUE, True),
    (DUE + ONE_MICROSECOND, True),
]


@pytest.fixture
def loan_ids(any_app):
    """A member's loan created by staff through the API with DUE_GIVEN; returns (loan_id, staff_client)."""
    with any_app.app_context():
        make = Factory()
        member_id = make.user("ann").id
        make.admin("boss")
        make.book("Dune", id=1)
    staff = any_app.test_client()
    assert login(staff, "boss").status_code == 200
    response = staff.post("/api/loans", json={"book_id": 1, "user_id": member_id, "due_at": DUE_GIVEN})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["due_at"] == "2024-03-11T07:30:00Z"
    return response.get_json()["id"], staff


def test_due_time_reads_back_as_utc_instant(any_app, loan_ids):
    loan_id, staff = loan_ids
    listed = staff.get("/api/loans").get_json()["items"]
    assert [(item["id"], item["due_at"]) for item in listed] == [(loan_id, "2024-03-11T07:30:00Z")]
    with any_app.app_context():
        loan = db.session.get(Loan, loan_id)
        assert loan.due_at == DUE and loan.due_at.utcoffset() == timedelta(0)
        if db.engine.dialect.name == "sqlite":
            raw = db.session.execute(db.text("SELECT due_at FROM loans")).scalar_one()
            assert raw == "2024-03-11 07:30:00.000000"  # fixed-width UTC text: compares as instants
        else:
            raw = db.session.execute(db.text("SELECT due_at AT TIME ZONE 'UTC' FROM loans")).scalar_one()
            assert raw == datetime(2024, 3, 11, 7, 30)


@pytest.mark.parametrize("now, overdue", INSTANTS)
def test_service_and_sql_agree_on_the_overdue_instant(any_app, loan_ids, now, overdue):
    loan_id, _ = loan_ids
    with any_app.app_context():
        loan = db.session.get(Loan, loan_id)
        assert lending.is_overdue(loan, now) is overdue
        staff = lending.Actor(user_id=0, is_staff=True)
        found, total = lending.list_loans(staff, now, 1, 20, overdue=True)
        assert ([l.id for l in found], total) == (([loan_id], 1) if overdue else ([], 0))
        found, total = lending.list_loans(staff, now, 1, 20, overdue=False)
        assert ([l.id for l in found], total) == (([], 0) if overdue else ([loan_id], 1))


@pytest.mark.parametrize("now, overdue", INSTANTS)
def test_api_overdue_filter_with_injected_clock(any_app, loan_ids, monkeypatch, now, overdue):
    loan_id, staff = loan_ids
    monkeypatch.setattr(api_lending, "utcnow", lambda: now)
    body = staff.get("/api/loans?overdue=true").get_json()
    assert [item["id"] for item in body["items"]] == ([loan_id] if overdue else [])
    item = staff.get("/api/loans").get_json()["items"][0]
    assert item["overdue"] is overdue


def test_renewal_refused_from_the_overdue_instant(any_app, loan_ids, monkeypatch):
    loan_id, staff = loan_ids
    monkeypatch.setattr(api_lending, "utcnow", lambda: DUE)
    assert staff.post(f"/api/loans/{loan_id}/renew").status_code == 409
    monkeypatch.setattr(api_lending, "utcnow", lambda: DUE - ONE_MICROSECOND)
    renewed = staff.post(f"/api/loans/{loan_id}/renew")
    assert renewed.status_code == 200
    assert renewed.get_json()["due_at"] == "2024-03-25T07:30:00Z"
