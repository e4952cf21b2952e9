"""Independent recount of every monitoring number, for `flask monitor check`.

Deliberately written differently from app/monitor/stats: it reads plain rows
and counts them in Python, so a wrong SQL aggregate, join or time bound in the
stats cannot hide behind the same mistake here. Slower than the stats; only the
check command uses it. Top-N lists are
returned as full rankings (`Ranking`) so ties at the cut can be judged fairly.
"""
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select

from ..library.models import (Book, Category, Loan, LoginEvent, Reservation, Role, SearchLog, User)
from . import status

DAY = timedelta(days=1)


@dataclass
class Ranking:
    """Every candidate of a top-N list as (label, value), with the list's field names."""
    pairs: list
    label: str
    value: str
    size: int = 10


def _rate(part, whole):
    return 0.0 if whole == 0 else round(100.0 * part / whole, 2)


def _midnight(now):
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def books(session, now, settings) -> dict:
    """The books endpoint's numbers, recounted row by row."""
    rows = session.execute(select(Book.id, Book.title, Book.category_id, Book.total_copies,
                                  Book.available_copies, Book.view_count)).all()
    names = dict(session.execute(select(Category.id, Category.name)).all())
    loan_rows = session.execute(select(Loan.book_id, Loan.status)).all()
    waiting = Counter(book_id for book_id, state in session.execute(select(Reservation.book_id, Reservation.status))
                      if state == "waiting")
    on_loan = Counter(book_id for book_id, state in loan_rows if state == "active")
    all_loans = Counter(book_id for book_id, _ in loan_rows)

    total = sum(r.total_copies for r in rows)
    available = sum(r.available_copies for r in rows)
    borrowed = sum(on_loan.values())
    per_category = {name: {"total_books": 0, "available_books": 0, "borrowed_books": 0} for name in names.values()}
    for r in rows:
        entry = per_category[names[r.category_id]]
        entry["total_books"] += r.total_copies
        entry["available_books"] += r.available_copies
        entry["borrowed_books"] += on_loan[r.id]
    for entry in per_category.values():
        entry["utilization_rate"] = _rate(entry["borrowed_books"], entry["total_books"])

    low = settings["LOW_STOCK_THRESHOLD"]
    by_id = {r.id: r for r in rows}
    availability = _rate(available, total)
    return {
        "overview": {"total_books": total, "available_books": available, "borrowed_books": borrowed,
                     "availability_rate": availability},
        "category_distribution": per_category,
        "inventory_metrics": {
            "low_stock": sum(1 for r in rows if 1 <= r.available_copies <= low),
            "out_of_stock": sum(1 for r in rows if r.available_copies == 0),
            "high_demand": sum(1 for book_id, n in waiting.items() if n > by_id[book_id].available_copies),
            "avg_copies_per_book": round(total / len(rows), 2) if rows else 0.0,
        },
        "popularity_metrics": {
            "most_viewed": Ranking([(r.title, r.view_count) for r in rows if r.view_count > 0], "title", "views"),
            "most_borrowed": Ranking([(by_id[b].title, n) for b, n in all_loans.items()], "title", "borrows"),
        },
        "status": status.rule_status("book_availability", availability if total else None, settings),
    }


def users(session, now, settings) -> dict:
    """The users endpoint's numbers, recounted row by row."""
    rows = session.execute(select(User.role, User.last_seen_at, User.last_login_at, User.email_verification,
                                  User.identity_verification, User.professional_verification)).all()

    def seen_within(row, days):
        return row.last_seen_at is not None and now - row.last_seen_at <= timedelta(days=days)

    active = [r for r in rows if seen_within(r, 7)]
    roles = {role: {"count": 0, "label": Role.LABELS[role], "active_count": 0} for role in Role.ALL}
    for r in rows:
        roles[r.role]["count"] += 1
        roles[r.role]["active_count"] += seen_within(r, 7)
    statuses = [(r.email_verification, r.identity_verification, r.professional_verification) for r in rows]
    return {
        "overview": {"total_users": len(rows), "active_users": len(active),
                     "activity_rate": _rate(len(active), len(rows))},
        "role_distribution": roles,
        "verification_stats": {
            "fully_verified": statuses.count(("approved", "approved", "approved")),
            "pending_email": sum(s[0] == "pending" for s in statuses),
            "pending_identity": sum(s[1] == "pending" for s in statuses),
            "pending_professional": sum(s[2] == "pending" for s in statuses),
        },
        "activity_metrics": {
            "daily_active": sum(seen_within(r, 1) for r in rows),
            "weekly_active": len(active),
            "monthly_active": sum(seen_within(r, 30) for r in rows),
            "never_logged_in": sum(r.last_login_at is None for r in rows),
        },
        "status": status.HEALTHY,
    }


def loans(session, now, settings) -> dict:
    """The loans endpoint's numbers, recounted row by row."""
    rows = session.execute(select(Loan.status, Loan.due_at, Loan.returned_at, Loan.renewals,
                                  Loan.fine_cents, Loan.fine_paid)).all()
    active = [r for r in rows if r.status == "active"]
    overdue = [r for r in active if r.due_at <= now]
    ageing = {"1-7": 0, "8-30": 0, "over_30": 0}
    for r in overdue:
        days = -((r.due_at - now) // DAY)  # whole days overdue, a started day counting as one
        ageing["1-7" if days <= 7 else "8-30" if days <= 30 else "over_30"] += 1
    returned = [r.returned_at for r in rows if r.returned_at is not None and r.returned_at <= now]
    unpaid = [r.fine_cents for r in rows if not r.fine_paid and r.fine_cents > 0]
    rate = _rate(len(overdue), len(active))
    return {
        "overview": {"total_loans": len(rows), "active_loans": len(active), "overdue_loans": len(overdue),
                     "overdue_rate": rate,
                     "due_soon": sum(1 for r in active if timedelta(0) < r.due_at - now < timedelta(days=3))},
        "return_metrics": {"returned_today": sum(1 for t in returned if t >= _midnight(now)),
                           "returned_this_week": sum(1 for t in returned if now - t <= timedelta(days=7))},
        "renewal_metrics": {"total_renewals": sum(r.renewals for r in active),
                            "renewed_loans": sum(1 for r in active if r.renewals)},
        "fine_metrics": {"outstanding_cents": sum(unpaid), "outstanding": round(sum(unpaid) / 100, 2),
                         "loans_with_outstanding_fines": len(unpaid)},
        "overdue_ageing": ageing,
        "status": status.rule_status("overdue_rate", rate, settings),
    }


def analytics(session, now, settings) -> dict:
    """The analytics endpoint's numbers, recounted row by row."""
    week_ago, midnight = now - timedelta(days=7), _midnight(now)
    searches = [r for r in session.execute(select(SearchLog.query, SearchLog.result_count, SearchLog.created_at))
                if week_ago <= r.created_at <= now]
    logins = [r for r in session.execute(select(LoginEvent.success, LoginEvent.created_at))
              if midnight <= r.created_at <= now]
    created = [c for (c,) in session.execute(select(User.created_at)) if week_ago <= c <= now]
    queries = defaultdict(int)
    for r in searches:
        queries[r.query.strip(" ").lower()] += 1
    zero = sum(1 for r in searches if r.result_count == 0)
    return {
        "overview": {
            "searches_today": sum(1 for r in searches if r.created_at >= midnight),
            "searches_this_week": len(searches),
            "zero_result_rate": _rate(zero, len(searches)),
            "logins_today": sum(1 for r in logins if r.success),
            "failed_logins_today": sum(1 for r in logins if not r.success),
            "registrations_this_week": len(created),
        },
        "search_metrics": {"zero_result_searches": zero,
                           "top_queries": Ranking(list(queries.items()), "query", "count")},
        "status": status.HEALTHY,
    }


def system(session, now, settings, *, cache_ok: bool) -> dict:
    """The system endpoint's recountable numbers (performance and uptime are measured, not counted)."""
    u, b, l = users(session, now, settings), books(session, now, settings), loans(session, now, settings)
    return {
        "system_overview": {
            "users": {"total": u["overview"]["total_users"], "active": u["overview"]["active_users"],
                      "activity_rate": u["overview"]["activity_rate"], "status": u["status"]},
            "books": {"total": b["overview"]["total_books"], "available": b["overview"]["available_books"],
                      "availability_rate": b["overview"]["availability_rate"], "status": b["status"]},
            "loans": {"active": l["overview"]["active_loans"], "overdue": l["overview"]["overdue_loans"],
                      "overdue_rate": l["overview"]["overdue_rate"], "status": l["status"]},
        },
        "health_status": {"database": True, "cache": cache_ok, "overall": cache_ok},
    }


def rule_inputs(session, now, settings) -> dict:
    """The database-fed threshold rules' inputs, recounted."""
    b = books(session, now, settings)["overview"]
    return {"book_availability": b["availability_rate"] if b["total_books"] else None,
            "overdue_rate": loans(session, now, settings)["overview"]["overdue_rate"]}


RECOUNTS = {"users": users, "books": books, "loans": loans, "analytics": analytics}
