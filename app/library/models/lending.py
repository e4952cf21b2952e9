"""Loans and reservations."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ...extensions import db
from ...timeutil import UTCDateTime, utcnow
from .catalogue import Book
from .users import User


class LoanStatus:
    ACTIVE = "active"      # on loan; overdue is derived (Loan.is_overdue)
    RETURNED = "returned"
    LOST = "lost"          # closed with a fine, copy written off
    DAMAGED = "damaged"    # returned damaged, closed with a fine
    ALL = (ACTIVE, RETURNED, LOST, DAMAGED)


class ReservationStatus:
    WAITING = "waiting"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"
    ALL = (WAITING, FULFILLED, CANCELLED)


class Loan(db.Model):
    __tablename__ = "loans"
    __table_args__ = (
        CheckConstraint("renewals >= 0 AND renewals <= 2", name="ck_loans_renewals"),
        CheckConstraint("fine_cents >= 0", name="ck_loans_fine"),
        CheckConstraint("status IN ('active', 'returned', 'lost', 'damaged')", name="ck_loans_status"),
        Index("ix_loans_status_due_at", "status", "due_at"),
        Index("ix_loans_user_status", "user_id", "status"),
        Index("ix_loans_book_id", "book_id"),
        Index("ix_loans_returned_at", "returned_at"),
        Index("ix_loans_borrowed_at", "borrowed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    borrowed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    returned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=LoanStatus.ACTIVE)
    renewals: Mapped[int] = mapped_column(Integer, default=0)
    fine_cents: Mapped[int] = mapped_column(Integer, default=0)
    fine_paid: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship()
    book: Mapped[Book] = relationship()

    def is_overdue(self, now: datetime) -> bool:
        """Still on loan and due at or before `now`: a loan turns overdue at its due instant."""
        return self.status == LoanStatus.ACTIVE and self.due_at <= now

    @classmethod
    def overdue_clause(cls, now: datetime):
        """`is_overdue` as a SQL condition; the one definition every query uses."""
        return and_(cls.status == LoanStatus.ACTIVE, cls.due_at <= now)


class Reservation(db.Model):
    """A member waiting for a book; queue order is created_at, then id."""

    __tablename__ = "reservations"
    __table_args__ = (
        CheckConstraint("status IN ('waiting', 'fulfilled', 'cancelled')", name="ck_reservations_status"),
        Index("ix_reservations_book_status", "book_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default=ReservationStatus.WAITING)

    user: Mapped[User] = relationship()
    book: Mapped[Book] = relationship()
