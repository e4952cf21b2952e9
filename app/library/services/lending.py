"""Lending rules: borrow, return, renew, reserve, and the overdue test.

Every function takes ids and the instant `now`, adds its changes to the
session and leaves the commit to the caller, so a request either commits all
of its writes or none. Races are closed in SQL, not in Python:

- a copy is taken with `UPDATE books SET available_copies = available_copies - 1
  WHERE id = :id AND available_copies > :held` and the row count checked
  (SQLite ignores `SELECT ... FOR UPDATE`, PostgreSQL re-checks the condition
  after waiting for a concurrent update of the row);
- per-member rules (loan limit, one loan or reservation per title) are counted
  after locking the member's row (`FOR NO KEY UPDATE` on PostgreSQL; on SQLite
  every transaction is `BEGIN IMMEDIATE`, so writers are already serialised);
- returns, renewals and cancellations are conditional updates on the current
  status, so doing one twice at the same moment succeeds once.
"""
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, not_, or_, select, update

from ...extensions import db
from ..models import AccountStatus, Book, Loan, LoanStatus, Reservation, ReservationStatus, User
from . import Conflict, Forbidden, NotFound

ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class Rules:
    """The lending limits, normally taken from the app's configuration."""

    loan_days: int = 14
    loan_limit: int = 5
    max_renewals: int = 2
    fine_per_day_cents: int = 25

    @classmethod
    def from_config(cls, config) -> "Rules":
        return cls(loan_days=config["LOAN_DAYS"], loan_limit=config["LOAN_LIMIT"],
                   max_renewals=config["MAX_RENEWALS"], fine_per_day_cents=config["FINE_PER_DAY_CENTS"])


@dataclass(frozen=True)
class Actor:
    """Who is asking: staff may act on any member's loans and reservations."""

    user_id: int
    is_staff: bool = False


# --- overdue -------------------------------------------------------------------

def is_overdue(loan: Loan, now: datetime) -> bool:
    """Overdue means still on loan and due at or before `now` (Loan.is_overdue)."""
    return loan.is_overdue(now)


def overdue_condition(now: datetime):
    """The same test as `is_overdue`, as a SQL condition on Loan."""
    return Loan.overdue_clause(now)


def fine_for(due_at: datetime, returned_at: datetime, fine_per_day_cents: int) -> int:
    """FINE_PER_DAY_CENTS for every started day after the due instant."""
    if returned_at <= due_at:
        return 0
    days, rest = divmod(returned_at - due_at, ONE_DAY)
    return (days + (1 if rest else 0)) * fine_per_day_cents


# --- helpers ---------------------------------------------------------------------

def _require_book(book_id: int) -> None:
    if db.session.execute(select(Book.id).where(Book.id == book_id)).first() is None:
        raise NotFound(f"Book {book_id} not found", book_id=book_id)


def _lock_member(user_id: int) -> None:
    """Lock the member's row for the rest of the transaction and check the account."""
    row = db.session.execute(
        select(User.id, User.account_status).where(User.id == user_id).with_for_update(key_share=True)
    ).first()
    if row is None:
        raise NotFound(f"Member {user_id} not found", user_id=user_id)
    if row.account_status == AccountStatus.SUSPENDED:
        raise Forbidden("The account is suspended", user_id=user_id)


def _holds(user_id: int, book_id: int) -> bool:
    return db.session.execute(
        select(Loan.id).where(Loan.user_id == user_id, Loan.book_id == book_id,
                              Loan.status == LoanStatus.ACTIVE).limit(1)
    ).first() is not None


def _waiting(user_id: int, book_id: int) -> Reservation | None:
    return db.session.execute(
        select(Reservation).where(Reservation.user_id == user_id, Reservation.book_id == book_id,
                                  Reservation.status == ReservationStatus.WAITING)
        .order_by(Reservation.created_at, Reservation.id).limit(1)
    ).scalar_one_or_none()


def _ahead_condition(reservation: Reservation):
    return or_(Reservation.created_at < reservation.created_at,
               and_(Reservation.created_at == reservation.created_at, Reservation.id < reservation.id))


def _waiting_ahead(user_id: int, book_id: int, own: Reservation | None) -> int:
    """How many other members wait for the book before this one (all of them without a reservation)."""
    query = select(func.count()).select_from(Reservation).where(
        Reservation.book_id == book_id, Reservation.status == ReservationStatus.WAITING,
        Reservation.user_id != user_id)
    if own is not None:
        query = query.where(_ahead_condition(own))
    return db.session.execute(query).scalar_one()


def _load_loan(loan_id: int, actor: Actor) -> Loan:
    loan = db.session.get(Loan, loan_id, populate_existing=True)
    if loan is None:
        raise NotFound(f"Loan {loan_id} not found", loan_id=loan_id)
    if loan.user_id != actor.user_id and not actor.is_staff:
        raise Forbidden(f"Loan {loan_id} belongs to another member", loan_id=loan_id)
    return loan


# --- loans -------------------------------------------------------------------------

def borrow(user_id: int, book_id: int, now: datetime, rules: Rules, due_at: datetime | None = None) -> Loan:
    """Lend one copy of `book_id` to `user_id`; `due_at` defaults to now + loan_days.

    Refuses (409) when the member already holds the title, has `loan_limit`
    active loans, or no copy is free for them: copies are held back for
    members who reserved earlier. Borrowing fulfils the member's own reservation.
    """
    _require_book(book_id)
    _lock_member(user_id)
    if _holds(user_id, book_id):
        raise Conflict(f"You already have book {book_id} on loan", book_id=book_id)
    active = db.session.execute(
        select(func.count()).select_from(Loan).where(Loan.user_id == user_id, Loan.status == LoanStatus.ACTIVE)
    ).scalar_one()
    if active >= rules.loan_limit:
        raise Conflict(f"Loan limit reached: {active} of {rules.loan_limit} loans active",
                       active_loans=active, loan_limit=rules.loan_limit)
    own = _waiting(user_id, book_id)
    held = _waiting_ahead(user_id, book_id, own)
    taken = db.session.execute(
        update(Book).where(Book.id == book_id, Book.available_copies > held)
        .values(available_copies=Book.available_copies - 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken != 1:
        if held:
            raise Conflict(f"No copy of book {book_id} is free: {held} member(s) reserved it before you",
                           book_id=book_id, waiting_ahead=held)
        raise Conflict(f"No copy of book {book_id} is available", book_id=book_id)
    if own is not None:
        own.status = ReservationStatus.FULFILLED
    loan = Loan(user_id=user_id, book_id=book_id, borrowed_at=now,
                due_at=due_at or now + timedelta(days=rules.loan_days),
                status=LoanStatus.ACTIVE, renewals=0, fine_cents=0, fine_paid=False)
    db.session.add(loan)
    db.session.flush()
    return loan


def return_loan(loan_id: int, actor: Actor, now: datetime, rules: Rules) -> Loan:
    """Close an active loan, charge the late fine and put the copy back on the shelf."""
    loan = _load_loan(loan_id, actor)
    fine = fine_for(loan.due_at, now, rules.fine_per_day_cents)
    closed = db.session.execute(
        update(Loan).where(Loan.id == loan_id, Loan.status == LoanStatus.ACTIVE)
        .values(status=LoanStatus.RETURNED, returned_at=now, fine_cents=fine)
        .execution_options(synchronize_session=False)
    ).rowcount
    if closed != 1:
        raise Conflict(f"Loan {loan_id} is not active (already {loan.status})", loan_id=loan_id)
    db.session.execute(
        update(Book).where(Book.id == loan.book_id).values(available_copies=Book.available_copies + 1)
        .execution_options(synchronize_session=False))
    db.session.refresh(loan)
    return loan


def renew(loan_id: int, actor: Actor, now: datetime, rules: Rules) -> Loan:
    """Extend an active loan by loan_days from its current due time.

    Refused (409) after max_renewals, once overdue, or while other members wait for the book.
    """
    loan = _load_loan(loan_id, actor)
    if loan.status != LoanStatus.ACTIVE:
        raise Conflict(f"Loan {loan_id} is not active (already {loan.status})", loan_id=loan_id)
    if loan.renewals >= rules.max_renewals:
        raise Conflict(f"Loan {loan_id} was already renewed {loan.renewals} times (maximum {rules.max_renewals})",
                       loan_id=loan_id, renewals=loan.renewals)
    if is_overdue(loan, now):
        raise Conflict(f"Loan {loan_id} is overdue and cannot be renewed; return it instead", loan_id=loan_id)
    waiting = db.session.execute(
        select(func.count()).select_from(Reservation).where(
            Reservation.book_id == loan.book_id, Reservation.status == ReservationStatus.WAITING,
            Reservation.user_id != loan.user_id)
    ).scalar_one()
    if waiting:
        raise Conflict(f"{waiting} other member(s) are waiting for this book", loan_id=loan_id, waiting=waiting)
    renewed = db.session.execute(
        update(Loan).where(Loan.id == loan_id, Loan.status == LoanStatus.ACTIVE, Loan.renewals == loan.renewals)
        .values(renewals=loan.renewals + 1, due_at=loan.due_at + timedelta(days=rules.loan_days))
        .execution_options(synchronize_session=False)
    ).rowcount
    if renewed != 1:
        raise Conflict(f"Loan {loan_id} changed while renewing; try again", loan_id=loan_id)
    db.session.refresh(loan)
    return loan


def list_loans(actor: Actor, now: datetime, page: int, per_page: int, *, status: str | None = None,
               overdue: bool | None = None, user_id: int | None = None) -> tuple[list[Loan], int]:
    """A page of loans, newest first: the actor's own, or anyone's (optionally one member's) for staff."""
    conditions = []
    if not actor.is_staff:
        if user_id is not None and user_id != actor.user_id:
            raise Forbidden("Only staff may list other members' loans", user_id=user_id)
        user_id = actor.user_id
    if user_id is not None:
        conditions.append(Loan.user_id == user_id)
    if status is not None:
        conditions.append(Loan.status == status)
    if overdue is True:
        conditions.append(overdue_condition(now))
    elif overdue is False:
        conditions.append(not_(overdue_condition(now)))
    total = db.session.execute(select(func.count()).select_from(Loan).where(*conditions)).scalar_one()
    loans = db.session.execute(
        select(Loan).where(*conditions).order_by(Loan.borrowed_at.desc(), Loan.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return list(loans), total


def loan_dict(loan: Loan, now: datetime) -> dict:
    """A loan as the API shows it, with `overdue` evaluated at `now`."""
    return {
        "id": loan.id, "book_id": loan.book_id, "user_id": loan.user_id,
        "borrowed_at": loan.borrowed_at, "due_at": loan.due_at, "returned_at": loan.returned_at,
        "status": loan.status, "overdue": is_overdue(loan, now),
        "renewals": loan.renewals, "fine_cents": loan.fine_cents,
    }


# --- reservations ------------------------------------------------------------------

def reserve(user_id: int, book_id: int, now: datetime) -> Reservation:
    """Put the member in the book's queue; refused (409) if already waiting or holding it."""
    _require_book(book_id)
    _lock_member(user_id)
    if _waiting(user_id, book_id) is not None:
        raise Conflict(f"You are already waiting for book {book_id}", book_id=book_id)
    if _holds(user_id, book_id):
        raise Conflict(f"You already have book {book_id} on loan", book_id=book_id)
    reservation = Reservation(user_id=user_id, book_id=book_id, created_at=now, status=ReservationStatus.WAITING)
    db.session.add(reservation)
    db.session.flush()
    return reservation


def cancel_reservation(reservation_id: int, actor: Actor) -> Reservation:
    """Leave the queue; only a waiting reservation can be cancelled."""
    reservation = db.session.get(Reservation, reservation_id, populate_existing=True)
    if reservation is None:
        raise NotFound(f"Reservation {reservation_id} not found", reservation_id=reservation_id)
    if reservation.user_id != actor.user_id and not actor.is_staff:
        raise Forbidden(f"Reservation {reservation_id} belongs to another member", reservation_id=reservation_id)
    cancelled = db.session.execute(
        update(Reservation).where(Reservation.id == reservation_id,
                                  Reservation.status == ReservationStatus.WAITING)
        .values(status=ReservationStatus.CANCELLED).execution_options(synchronize_session=False)
    ).rowcount
    if cancelled != 1:
        raise Conflict(f"Reservation {reservation_id} is not waiting (already {reservation.status})",
                       reservation_id=reservation_id)
    db.session.refresh(reservation)
    return reservation


def queue_positions(reservations: list[Reservation]) -> dict[int, int]:
    """1-based queue place of each waiting reservation, by (created_at, id) within its book."""
    waiting_books = {r.book_id for r in reservations if r.status == ReservationStatus.WAITING}
    if not waiting_books:
        return {}
    place = func.row_number().over(partition_by=Reservation.book_id,
                                   order_by=(Reservation.created_at, Reservation.id))
    rows = db.session.execute(
        select(Reservation.id, place).where(Reservation.book_id.in_(waiting_books),
                                            Reservation.status == ReservationStatus.WAITING)
    ).all()
    wanted = {r.id for r in reservations}
    return {rid: position for rid, position in rows if rid in wanted}


def list_reservations(actor: Actor, page: int, per_page: int, status: str | None = None
                      ) -> tuple[list[Reservation], int]:
    """A page of the actor's own reservations, newest first."""
    conditions = [Reservation.user_id == actor.user_id]
    if status is not None:
        conditions.append(Reservation.status == status)
    total = db.session.execute(select(func.count()).select_from(Reservation).where(*conditions)).scalar_one()
    reservations = db.session.execute(
        select(Reservation).where(*conditions).order_by(Reservation.created_at.desc(), Reservation.id.desc())
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return list(reservations), total


def reservation_dict(reservation: Reservation, position: int | None) -> dict:
    """A reservation as the API shows it."""
    return {"id": reservation.id, "book_id": reservation.book_id, "user_id": reservation.user_id,
            "status": reservation.status, "created_at": reservation.created_at, "position": position}
