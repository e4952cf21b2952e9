"""A small, fully known library for the monitoring tests, and the numbers it must give.

Everything is placed relative to `now`; "today" events sit halfway between UTC
midnight and `now`, so they are today whatever the time of the run.
"""
from datetime import datetime, time, timedelta, timezone

from app.extensions import db
from app.library.models import LoanStatus, LoginEvent, Reservation, SearchLog

D, H = timedelta(days=1), timedelta(hours=1)
USERNAMES = ("root_keeper", "zelda_reader", "yorick_scholar", "xena_teacher", "wanda_member", "vera_librarian")


def today(now):
    midnight = datetime.combine(now.date(), time(0), tzinfo=timezone.utc)
    return midnight + (now - midnight) / 2


def build(f, now):
    """Create the dataset with factory `f`; returns the created objects by name."""
    approved = "approved"
    admin = f.admin(USERNAMES[0], last_seen_at=now - H, last_login_at=now - H, created_at=now - 2 * D)
    u1 = f.user(USERNAMES[1], role="student", last_seen_at=now - 2 * H, last_login_at=now - 2 * H,
                identity_verification=approved, professional_verification=approved, created_at=now - 3 * D)
    u2 = f.user(USERNAMES[2], role="student", last_seen_at=now - 3 * D, last_login_at=now - 3 * D,
                created_at=now - 5 * D)
    u3 = f.user(USERNAMES[3], role="teacher", last_seen_at=now - 10 * D, last_login_at=now - 10 * D,
                email_verification="pending", identity_verification=approved,
                professional_verification=approved, created_at=now - 20 * D)
    u4 = f.user(USERNAMES[4], role="member", email_verification="rejected",
                identity_verification="expired", created_at=now - 8 * D)
    u5 = f.user(USERNAMES[5], role="librarian", is_admin=True, identity_verification=approved,
                professional_verification="rejected", created_at=now - 100 * D)

    f.category("Poetry")  # a category without books
    dune = f.book("Dune", copies=4, category="Fiction", view_count=50)
    emma = f.book("Emma", copies=2, category="Fiction", view_count=10)
    cosmos = f.book("Cosmos", copies=3, category="Science")
    gaia = f.book("Gaia", copies=1, category="Science")

    def loan(user, book, **fields):
        return f.loan(user, book, borrowed_at=fields.pop("borrowed_at", now - 20 * D), **fields)

    # Active: overdue by 3, 10 and 40 days; due in 2, 10 and 5 days.
    loan(u1, dune, due_at=now - 3 * D, renewals=1)
    loan(u2, dune, due_at=now - 10 * D)
    loan(u3, cosmos, borrowed_at=now - 60 * D, due_at=now - 40 * D, renewals=2)
    loan(u1, emma, due_at=now + 2 * D)
    loan(u2, cosmos, due_at=now + 10 * D)
    loan(u1, gaia, due_at=now + 5 * D)
    # Closed.
    loan(u2, dune, due_at=now - 6 * D, returned_at=today(now), status=LoanStatus.RETURNED)
    loan(u3, emma, due_at=now - 1 * D, returned_at=now - 3 * D, status=LoanStatus.RETURNED)
    loan(u1, cosmos, due_at=now - 10 * D, returned_at=now - 9 * D, status=LoanStatus.DAMAGED,
         fine_cents=500)
    loan(u2, emma, due_at=now - 15 * D, status=LoanStatus.LOST, fine_cents=1250)
    loan(u3, dune, borrowed_at=now - 50 * D, due_at=now - 36 * D, returned_at=now - 30 * D,
         status=LoanStatus.RETURNED, fine_cents=300, fine_paid=True)

    for user, book, status in ((u3, gaia, "waiting"), (u4, dune, "waiting"), (u5, dune, "waiting"),
                               (admin, dune, "cancelled"), (u4, emma, "waiting"), (u5, emma, "waiting"),
                               (u1, cosmos, "fulfilled")):
        db.session.add(Reservation(user_id=user.id, book_id=book.id, status=status, created_at=now - 2 * D))

    for query, results, at in (("Dune", 3, today(now)), (" dune ", 3, now - 2 * D), ("DUNE", 3, now - 3 * D),
                               ("cosmos", 1, today(now)), ("xyzzy", 0, now - 1 * D),
                               ("qqq", 0, now - 10 * D), ("emma", 2, now - 8 * D)):
        db.session.add(SearchLog(query=query, result_count=results, user_id=u1.id, created_at=at))

    for user, success, at in ((u1, True, today(now)), (u2, True, today(now)), (u1, False, today(now)),
                              (None, False, today(now)), (u3, True, now - 2 * D)):
        db.session.add(LoginEvent(user_id=user.id if user else None, success=success, created_at=at))
    db.session.commit()
    return {"admin": admin, "users": [u1, u2, u3, u4, u5], "books": [dune, emma, cosmos, gaia]}


BOOKS = {
    "overview": {"total_books": 10, "available_books": 4, "borrowed_books": 6, "availability_rate": 40.0},
    "category_distribution": {
        "Fiction": {"total_books": 6, "available_books": 3, "borrowed_books": 3, "utilization_rate": 50.0},
        "Poetry": {"total_books": 0, "available_books": 0, "borrowed_books": 0, "utilization_rate": 0.0},
        "Science": {"total_books": 4, "available_books": 1, "borrowed_books": 3, "utilization_rate": 75.0},
    },
    "inventory_metrics": {"low_stock": 3, "out_of_stock": 1, "high_demand": 2, "avg_copies_per_book": 2.5},
    "popularity_metrics": {
        "most_viewed": [{"title": "Dune", "views": 50}, {"title": "Emma", "views": 10}],
        "most_borrowed": [{"title": "Dune", "borrows": 4}, {"title": "Emma", "borrows": 3},
                          {"title": "Cosmos", "borrows": 3}, {"title": "Gaia", "borrows": 1}],
    },
    "status": "healthy",
    "alerts": [],
}

USERS = {
    "overview": {"total_users": 6, "active_users": 3, "activity_rate": 50.0},
    "role_distribution": {
        "student": {"count": 2, "label": "Student", "active_count": 2},
        "teacher": {"count": 1, "label": "Teacher", "active_count": 0},
        "librarian": {"count": 1, "label": "Librarian", "active_count": 0},
        "member": {"count": 1, "label": "Member", "active_count": 0},
        "admin": {"count": 1, "label": "Administrator", "active_count": 1},
    },
    "verification_stats": {"fully_verified": 1, "pending_email": 1, "pending_identity": 2,
                           "pending_professional": 3},
    "activity_metrics": {"daily_active": 2, "weekly_active": 3, "monthly_active": 4, "never_logged_in": 2},
    "status": "healthy",
    "alerts": [],
}

OVERDUE_ALERT = {
    "rule": "overdue_rate", "severity": "critical", "value": 50.0, "threshold": 10.0,
    "message": "Overdue rate 50.0% is at or above the threshold 10.0%",
}

LOANS = {
    "overview": {"total_loans": 11, "active_loans": 6, "overdue_loans": 3, "overdue_rate": 50.0, "due_soon": 1},
    "return_metrics": {"returned_today": 1, "returned_this_week": 2},
    "renewal_metrics": {"total_renewals": 3, "renewed_loans": 2},
    "fine_metrics": {"outstanding_cents": 1750, "outstanding": 17.5, "loans_with_outstanding_fines": 2},
    "overdue_ageing": {"1-7": 1, "8-30": 1, "over_30": 1},
    "status": "critical",
    "alerts": [OVERDUE_ALERT],
}

ANALYTICS = {
    "overview": {"searches_today": 2, "searches_this_week": 5, "zero_result_rate": 20.0,
                 "logins_today": 2, "failed_logins_today": 2, "registrations_this_week": 3},
    "search_metrics": {
        "zero_result_searches": 1,
        "top_queries": [{"query": "dune", "count": 3}, {"query": "cosmos", "count": 1},
                        {"query": "xyzzy", "count": 1}],
    },
    "status": "healthy",
    "alerts": [],
}
