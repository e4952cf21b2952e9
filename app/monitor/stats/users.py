"""User statistics: activity, roles, verification."""
from datetime import timedelta

from sqlalchemy import and_, func, select

from ...library.models import Role, User, VerificationStatus
from .. import status
from ._common import count_where, percent

AREA = "users"
DAILY, WEEKLY, MONTHLY = timedelta(days=1), timedelta(days=7), timedelta(days=30)


def _active(now, window=WEEKLY):
    return User.last_seen_at >= now - window


def users_overview(session, now) -> dict:
    """{total_users, active_users, activity_rate}; active = last seen within 7 days of `now`."""
    total, active = session.execute(select(func.count(), count_where(_active(now))).select_from(User)).one()
    return {
        "total_users": int(total),
        "active_users": int(active),
        "activity_rate": percent(active, total),
    }


def activity_metrics(session, now) -> dict:
    """{daily_active, weekly_active, monthly_active, never_logged_in}."""
    daily, weekly, monthly, never = session.execute(
        select(count_where(_active(now, DAILY)),
               count_where(_active(now, WEEKLY)),
               count_where(_active(now, MONTHLY)),
               count_where(User.last_login_at.is_(None)))
    ).one()
    return {
        "daily_active": int(daily),
        "weekly_active": int(weekly),
        "monthly_active": int(monthly),
        "never_logged_in": int(never),
    }


def role_distribution(session, now) -> dict:
    """{<role>: {count, label, active_count}} for every role (zeros included)."""
    rows = session.execute(
        select(User.role, func.count(), count_where(_active(now))).group_by(User.role)
    ).all()
    counts = {role: (int(n), int(active)) for role, n, active in rows}
    return {
        role: {
            "count": counts.get(role, (0, 0))[0],
            "label": Role.LABELS[role],
            "active_count": counts.get(role, (0, 0))[1],
        }
        for role in Role.ALL
    }


def verification_stats(session) -> dict:
    """{fully_verified, pending_email, pending_identity, pending_professional}."""
    approved, pending = VerificationStatus.APPROVED, VerificationStatus.PENDING
    fully, email, identity, professional = session.execute(
        select(count_where(and_(User.email_verification == approved,
                                User.identity_verification == approved,
                                User.professional_verification == approved)),
               count_where(User.email_verification == pending),
               count_where(User.identity_verification == pending),
               count_where(User.professional_verification == pending))
    ).one()
    return {
        "fully_verified": int(fully),
        "pending_email": int(email),
        "pending_identity": int(identity),
        "pending_professional": int(professional),
    }


def users_stats(session, now, settings) -> dict:
    """The users endpoint's body without `model` and `timestamp`.

    No threshold rule belongs to this area, so `alerts` is empty and `status` healthy
    (see status.RULES).
    """
    alerts = status.evaluate({}, settings, AREA)
    return {
        "overview": users_overview(session, now),
        "role_distribution": role_distribution(session, now),
        "verification_stats": verification_stats(session),
        "activity_metrics": activity_metrics(session, now),
        "status": status.worst(*(a["severity"] for a in alerts)),
        "alerts": alerts,
    }
