"""Members and staff."""
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from ...extensions import db
from ...timeutil import UTCDateTime, utcnow


class Role:
    STUDENT = "student"
    TEACHER = "teacher"
    LIBRARIAN = "librarian"
    MEMBER = "member"
    ADMIN = "admin"
    ALL = (STUDENT, TEACHER, LIBRARIAN, MEMBER, ADMIN)
    LABELS = {STUDENT: "Student", TEACHER: "Teacher", LIBRARIAN: "Librarian",
              MEMBER: "Member", ADMIN: "Administrator"}
    STAFF = (LIBRARIAN, ADMIN)


class AccountStatus:
    ACTIVE = "active"
    SUSPENDED = "suspended"
    ALL = (ACTIVE, SUSPENDED)


class VerificationStatus:
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    ALL = (PENDING, APPROVED, REJECTED, EXPIRED)


def _in(column, values):
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class User(UserMixin, db.Model):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(_in("role", Role.ALL), name="ck_users_role"),
        CheckConstraint(_in("account_status", AccountStatus.ALL), name="ck_users_account_status"),
        CheckConstraint(_in("email_verification", VerificationStatus.ALL), name="ck_users_email_verification"),
        CheckConstraint(_in("identity_verification", VerificationStatus.ALL), name="ck_users_identity_verification"),
        CheckConstraint(_in("professional_verification", VerificationStatus.ALL),
                        name="ck_users_professional_verification"),
        Index("ix_users_last_seen_at", "last_seen_at"),
        Index("ix_users_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    # Imported members have no password: they cannot log in until one is set.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.MEMBER)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    account_status: Mapped[str] = mapped_column(String(20), default=AccountStatus.ACTIVE)
    email_verification: Mapped[str] = mapped_column(String(20), default=VerificationStatus.PENDING)
    identity_verification: Mapped[str] = mapped_column(String(20), default=VerificationStatus.PENDING)
    professional_verification: Mapped[str] = mapped_column(String(20), default=VerificationStatus.PENDING)
    # When the member asked for verification; drives the verification backlog age.
    verification_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)

    def check_password(self, password: str) -> bool:
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login: suspended accounts cannot log in
        return self.account_status == AccountStatus.ACTIVE
