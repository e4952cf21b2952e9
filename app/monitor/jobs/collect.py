"""`collect`: one snapshot of the business gauges per collection period."""
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from ...extensions import db
from ...library.models import User, VerificationStatus
from ...timeutil import utcnow
from ..models import MetricSnapshot
from ..schedule import period_key
from ..stats.books import books_overview
from ..stats.loans import loans_overview
from ..stats.users import users_overview
from .upsert import insert_or_replace


def pending_verification():
    """Members who asked for verification and still have a check pending."""
    pending = VerificationStatus.PENDING
    return and_(User.verification_requested_at.is_not(None),
                or_(User.email_verification == pending, User.identity_verification == pending,
                    User.professional_verification == pending))


def measure(session, now: datetime) -> dict:
    """The snapshot's values from the database now (SQL aggregates)."""
    users = users_overview(session, now)
    books = books_overview(session)
    loans = loans_overview(session, now)
    pending = session.scalar(select(func.count()).select_from(User).where(pending_verification()))
    return {
        "total_users": users["total_users"],
        "active_users": users["active_users"],
        "total_copies": books["total_books"],
        "available_copies": books["available_books"],
        "active_loans": loans["active_loans"],
        "overdue_loans": loans["overdue_loans"],
        "pending_verifications": int(pending),
    }


def collect(period_start: datetime) -> dict:
    """Write the snapshot row of the period starting at `period_start`.

    The period key is unique: a second write for the same period (a forced
    re-run) replaces the values instead of adding a row.
    """
    now = utcnow()
    values = measure(db.session, now)
    key = period_key(period_start)
    insert_or_replace(db.session, MetricSnapshot, {"period_key": key},
                      {"period_start": period_start, "taken_at": now, **values})
    return {"period_key": key, **values}
