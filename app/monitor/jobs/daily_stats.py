"""`daily_stats`: one row per UTC day, counted from the day's real events."""
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import and_, func, select

from ...extensions import db
from ...library.models import Loan, LoanStatus, LoginEvent, SearchLog, User
from ...timeutil import utcnow
from ..models import DailyStats
from .upsert import insert_or_replace


def _count(session, model, *conditions) -> int:
    return int(session.scalar(select(func.count()).select_from(model).where(*conditions)))


def compute_day(session, day: date) -> dict:
    """Counts of the events of `day` (UTC midnight to midnight)."""
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    end = start + timedelta(days=1)

    def within(column):
        return and_(column >= start, column < end)

    return {
        "loans": _count(session, Loan, within(Loan.borrowed_at)),
        "returns": _count(session, Loan, within(Loan.returned_at)),
        "registrations": _count(session, User, within(User.created_at)),
        "logins": _count(session, LoginEvent, within(LoginEvent.created_at), LoginEvent.success.is_(True)),
        "failed_logins": _count(session, LoginEvent, within(LoginEvent.created_at), LoginEvent.success.is_(False)),
        "searches": _count(session, SearchLog, within(SearchLog.created_at)),
        "zero_result_searches": _count(session, SearchLog, within(SearchLog.created_at),
                                       SearchLog.result_count == 0),
        # Loans whose due instant fell on this day and that were not back by then.
        "became_overdue": _count(
            session, Loan, within(Loan.due_at),
            (Loan.status == LoanStatus.ACTIVE) | (Loan.returned_at > Loan.due_at)),
        "fines_cents": int(session.scalar(
            select(func.coalesce(func.sum(Loan.fine_cents), 0)).where(within(Loan.returned_at)))),
    }


def store_day(day: date) -> dict:
    """Compute `day` and write its row, replacing an earlier row of the same day."""
    values = compute_day(db.session, day)
    now = utcnow()
    insert_or_replace(db.session, DailyStats, {"day": day}, {"computed_at": now, **values})
    return {"day": day.isoformat(), **values}


def daily_stats(period_start: datetime) -> dict:
    """Scheduled at UTC midnight: store the day that just ended."""
    return store_day((period_start - timedelta(days=1)).astimezone(timezone.utc).date())
