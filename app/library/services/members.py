"""Member verification, as staff review it."""
from datetime import datetime

from sqlalchemy import func, or_, select

from ...extensions import db
from ..models import User, VerificationStatus
from . import NotFound

KINDS = ("email", "identity", "professional")


def _column(kind: str):
    return getattr(User, f"{kind}_verification")


def list_members(page: int, per_page: int, verification: str | None = None, kind: str | None = None
                 ) -> tuple[list[User], int]:
    """Members with a check in state `verification` (of `kind`, or any kind).

    Oldest verification request first, members who never asked last, then by id.
    """
    conditions = []
    if verification is not None:
        kinds = (kind,) if kind else KINDS
        conditions.append(or_(*(_column(k) == verification for k in kinds)))
    total = db.session.execute(select(func.count()).select_from(User).where(*conditions)).scalar_one()
    members = db.session.execute(
        select(User).where(*conditions)
        .order_by(User.verification_requested_at.is_(None), User.verification_requested_at, User.id)
        .limit(per_page).offset((page - 1) * per_page)
    ).scalars().all()
    return list(members), total


def set_verification(member_id: int, kind: str, status: str, now: datetime) -> User:
    """Record a staff decision on one of the member's three checks (caller commits).

    Setting a check back to pending starts a new request if none is open.
    """
    member = db.session.get(User, member_id)
    if member is None:
        raise NotFound(f"Member {member_id} not found", member_id=member_id)
    setattr(member, f"{kind}_verification", status)
    if status == VerificationStatus.PENDING and member.verification_requested_at is None:
        member.verification_requested_at = now
    db.session.flush()
    return member
