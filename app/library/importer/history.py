"""Loans and reservations planned from the reader interactions (pure, no database).

Ratings become returned loans, spread in file (= time) order over the past
HISTORY_DAYS; a share of to-read marks become active loans or reservations.
Every choice is a stable function of the reader id, book id and row number.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from ..models import LoanStatus, ReservationStatus
from .stable import choose, stable_fraction, stable_fractions

HISTORY_DAYS = 180
LATE_MAX_DAYS = 7
LOST_FEE_CENTS = 2000
DAMAGE_FEE_CENTS = 500
# Cumulative shares (see docs/import.md).
RENEWALS = ((0.80, 0), (0.95, 1), (1.0, 2))
LATE_RETURN_SHARE = 0.12
CLOSING = ((0.005, LoanStatus.LOST), (0.015, LoanStatus.DAMAGED), (1.0, LoanStatus.RETURNED))
FINE_PAID_SHARE = 0.70
TO_READ_ACTIVE_SHARE = 0.06
TO_READ_RESERVE_SHARE = 0.03
ACTIVE_DUE = ((0.08, "overdue"), (0.23, "due_soon"), (1.0, "later"))
OVERDUE_MAX_DAYS = 45
DUE_SOON_DAYS = 3
RESERVATION_DAYS = 30

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@dataclass
class HistoryPlan:
    loans: list[dict]          # Loan columns with "reader" in place of user_id
    reservations: list[dict]   # Reservation columns with "reader" in place of user_id
    first_activity: dict[int, object] = field(default_factory=dict)   # reader → earliest instant
    active_by_book: dict[int, int] = field(default_factory=dict)


def _late_fine(due_at, returned_at, fine_per_day_cents):
    """Whole days late, each started day counted, times the daily fine."""
    late = returned_at - due_at
    if late <= timedelta(0):
        return 0
    return -(-late // DAY) * fine_per_day_cents


def _returned_loan(i, count, reader, book, now, loan_days, fine_per_day_cents):
    """Rating row i of count → a closed loan borrowed at its place in the time order."""
    u_renewals, u_returned, u_late, u_closing, u_paid = stable_fractions(5, "rating", reader, book, i)
    start = now - timedelta(days=HISTORY_DAYS)
    span = (now - 2 * DAY - start) // timedelta(seconds=1)
    borrowed_at = start + timedelta(seconds=i * span // max(count - 1, 1))
    renewals = choose(RENEWALS, u_renewals)
    due_at = borrowed_at + timedelta(days=loan_days * (1 + renewals))
    ceiling = now - timedelta(minutes=1)
    late_at = due_at + HOUR + u_returned * (timedelta(days=LATE_MAX_DAYS) - HOUR)
    if u_late < LATE_RETURN_SHARE and late_at <= ceiling:
        returned_at = late_at
    else:
        returned_at = borrowed_at + HOUR + u_returned * (min(due_at, ceiling) - borrowed_at - HOUR)
    returned_at = returned_at.replace(microsecond=0)
    status = choose(CLOSING, u_closing)
    fine = _late_fine(due_at, returned_at, fine_per_day_cents)
    fine += {LoanStatus.LOST: LOST_FEE_CENTS, LoanStatus.DAMAGED: DAMAGE_FEE_CENTS}.get(status, 0)
    return {
        "reader": reader, "book_id": book, "borrowed_at": borrowed_at, "due_at": due_at,
        "returned_at": returned_at, "status": status, "renewals": renewals, "fine_cents": fine,
        "fine_paid": fine > 0 and u_paid < FINE_PAID_SHARE,
    }


def _active_loan(reader, book, now, loan_days):
    """A loan still out: overdue, due within DUE_SOON_DAYS, or due later."""
    u_kind, u, u_renewals = stable_fractions(3, "active", reader, book)
    kind = choose(ACTIVE_DUE, u_kind)
    if kind == "overdue":
        due_at = now - HOUR - u * timedelta(days=OVERDUE_MAX_DAYS)
    elif kind == "due_soon":
        due_at = now + HOUR + u * (timedelta(days=DUE_SOON_DAYS) - 2 * HOUR)
    else:
        due_at = now + timedelta(days=DUE_SOON_DAYS) + HOUR + u * (
            timedelta(days=loan_days - DUE_SOON_DAYS) - 2 * HOUR)
    due_at = due_at.replace(microsecond=0)
    renewals = choose(RENEWALS, u_renewals)
    return {
        "reader": reader, "book_id": book, "borrowed_at": due_at - timedelta(days=loan_days * (1 + renewals)),
        "due_at": due_at, "returned_at": None, "status": LoanStatus.ACTIVE, "renewals": renewals,
        "fine_cents": 0, "fine_paid": False,
    }


def plan_history(ratings, to_read, copies, now, *, loan_days, loan_limit, fine_per_day_cents) -> HistoryPlan:
    """Every loan and reservation, in a fixed order: rating loans (oldest first),
    then active loans and reservations in to-read order."""
    plan = HistoryPlan([], [])
    first = plan.first_activity

    def seen(reader, at):
        if reader not in first or at < first[reader]:
            first[reader] = at

    for i, (reader, book) in enumerate(ratings):
        loan = _returned_loan(i, len(ratings), reader, book, now, loan_days, fine_per_day_cents)
        plan.loans.append(loan)
        seen(reader, loan["borrowed_at"])

    active_by_reader: dict[int, int] = {}
    active_by_book = plan.active_by_book
    done = set()
    start = now - timedelta(days=RESERVATION_DAYS)
    span = (timedelta(days=RESERVATION_DAYS) - HOUR) // timedelta(seconds=1)
    for j, (reader, book) in enumerate(to_read):
        if (reader, book) in done:
            continue
        done.add((reader, book))
        u = stable_fraction("to_read", reader, book)
        if u >= TO_READ_ACTIVE_SHARE + TO_READ_RESERVE_SHARE:
            continue
        wants_loan = u < TO_READ_ACTIVE_SHARE
        if (wants_loan and active_by_book.get(book, 0) < copies[book]
                and active_by_reader.get(reader, 0) < loan_limit):
            loan = _active_loan(reader, book, now, loan_days)
            plan.loans.append(loan)
            active_by_book[book] = active_by_book.get(book, 0) + 1
            active_by_reader[reader] = active_by_reader.get(reader, 0) + 1
            seen(reader, loan["borrowed_at"])
        else:
            # No copy left or the member is at the loan limit: they queue instead.
            created_at = start + timedelta(seconds=j * span // max(len(to_read) - 1, 1))
            plan.reservations.append({"reader": reader, "book_id": book, "created_at": created_at,
                                      "status": ReservationStatus.WAITING})
            seen(reader, created_at)
    return plan
