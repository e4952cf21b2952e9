"""Loan statistics: active and overdue loans, returns, renewals, fines, overdue ageing."""
from datetime import timedelta

from sqlalchemy import and_, func, select

from ...library.models import Loan, LoanStatus
from .. import status
from ._common import count_where, percent, utc_midnight

DUE_SOON = timedelta(days=3)
WEEK = timedelta(days=7)
AGEING_CUTOFFS = (7, 30)  # days overdue: 1-7, 8-30, over 30


def loans_overview(session, now) -> dict:
    """{active_loans, overdue_loans, overdue_rate, due_soon}.

    Active = status active (overdue included); overdue = active and due_at <= now
    (Loan.overdue_clause); due_soon = active with now < due_at < now + 3 days.
    """
    active = Loan.status == LoanStatus.ACTIVE
    total, n_active, n_overdue, n_due_soon = session.execute(
        select(func.count(),
               count_where(active),
               count_where(Loan.overdue_clause(now)),
               count_where(and_(active, Loan.due_at > now, Loan.due_at < now + DUE_SOON)))
        .select_from(Loan)
    ).one()
    return {
        "total_loans": int(total),
        "active_loans": int(n_active),
        "overdue_loans": int(n_overdue),
        "overdue_rate": percent(n_overdue, n_active),
        "due_soon": int(n_due_soon),
    }


def return_metrics(session, now) -> dict:
    """{returned_today, returned_this_week}: loans whose returned_at falls since UTC
    midnight, or in the 7 days before `now` (a rolling week)."""
    today, week = session.execute(
        select(count_where(Loan.returned_at >= utc_midnight(now)),
               count_where(Loan.returned_at >= now - WEEK))
        .select_from(Loan).where(Loan.returned_at <= now)
    ).one()
    return {"returned_today": int(today), "returned_this_week": int(week)}


def renewal_metrics(session) -> dict:
    """{total_renewals, renewed_loans} over active loans."""
    total, renewed = session.execute(
        select(func.coalesce(func.sum(Loan.renewals), 0), count_where(Loan.renewals > 0))
        .where(Loan.status == LoanStatus.ACTIVE)
    ).one()
    return {"total_renewals": int(total), "renewed_loans": int(renewed)}


def fine_metrics(session) -> dict:
    """{outstanding_cents, outstanding, loans_with_outstanding_fines}: unpaid fines."""
    cents, loans = session.execute(
        select(func.coalesce(func.sum(Loan.fine_cents), 0), func.count())
        .where(Loan.fine_paid.is_(False), Loan.fine_cents > 0)
    ).one()
    return {
        "outstanding_cents": int(cents),
        "outstanding": round(int(cents) / 100, 2),
        "loans_with_outstanding_fines": int(loans),
    }


def overdue_ageing(session, now) -> dict:
    """Overdue loans by days overdue, rounded up: {"1-7", "8-30", "over_30"}.

    The cut-off instants are computed here, so the SQL is plain comparisons.
    """
    week_cut = now - timedelta(days=AGEING_CUTOFFS[0])
    month_cut = now - timedelta(days=AGEING_CUTOFFS[1])
    first, second, third = session.execute(
        select(count_where(Loan.due_at >= week_cut),
               count_where(and_(Loan.due_at < week_cut, Loan.due_at >= month_cut)),
               count_where(Loan.due_at < month_cut))
        .where(Loan.overdue_clause(now))
    ).one()
    return {"1-7": int(first), "8-30": int(second), "over_30": int(third)}


def loans_stats(session, now, settings) -> dict:
    """The loans endpoint's body without `model` and `timestamp`."""
    overview = loans_overview(session, now)
    alerts = status.evaluate({"overdue_rate": overview["overdue_rate"]}, settings, "loans")
    return {
        "overview": overview,
        "status": status.worst(*(alert["severity"] for alert in alerts)),
        "return_metrics": return_metrics(session, now),
        "renewal_metrics": renewal_metrics(session),
        "fine_metrics": fine_metrics(session),
        "overdue_ageing": overdue_ageing(session, now),
        "alerts": alerts,
    }
