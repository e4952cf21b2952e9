"""Synthetic members for the reader ids (pure, no database).

The data has no personal details and the import adds none: a member is
`reader<id>` with an address on the reserved `.invalid` domain and no
password, so nobody can log in as one until staff set a password.
"""
from datetime import timedelta

from ..models import AccountStatus, Role, VerificationStatus as V
from .stable import choose, pick, stable_fractions

EMAIL_DOMAIN = "members.invalid"
# Cumulative shares (see docs/import.md).
ROLES = ((0.50, Role.STUDENT), (0.83, Role.MEMBER), (0.98, Role.TEACHER), (1.0, Role.LIBRARIAN))
EMAIL_STATES = ((0.80, V.APPROVED), (0.90, V.PENDING), (0.96, V.EXPIRED), (1.0, V.REJECTED))
IDENTITY_STATES = ((0.60, V.APPROVED), (0.82, V.PENDING), (0.92, V.EXPIRED), (1.0, V.REJECTED))
PROFESSIONAL_STATES = ((0.45, V.APPROVED), (0.70, V.PENDING), (0.85, V.EXPIRED), (1.0, V.REJECTED))
NEVER_LOGGED_IN_SHARE = 0.12
LOGIN_WINDOW_DAYS = 60
SEEN_AFTER_LOGIN_MAX = timedelta(hours=4)
JOINED_BEFORE_FIRST_ACTIVITY_MAX_DAYS = 30
JOINED_WITHOUT_ACTIVITY_MAX_DAYS = 180
VERIFICATION_WINDOW_DAYS = 30


def username_for(reader: int) -> str:
    return f"reader{reader}"


def _member(reader, first_activity, now):
    u, u_never, u_login, u_seen, u_requested, u_role, u_email, u_identity = stable_fractions(8, "member", reader)
    if first_activity is None:
        created_at = now - timedelta(days=1) - u * timedelta(days=JOINED_WITHOUT_ACTIVITY_MAX_DAYS)
    else:
        created_at = first_activity - timedelta(hours=1) - u * timedelta(days=JOINED_BEFORE_FIRST_ACTIVITY_MAX_DAYS)
    created_at = created_at.replace(microsecond=0)

    last_login_at = last_seen_at = None
    if u_never >= NEVER_LOGGED_IN_SHARE:
        window_start = max(created_at, now - timedelta(days=LOGIN_WINDOW_DAYS))
        last_login_at = (window_start + u_login * (now - window_start)).replace(microsecond=0)
        last_seen_at = (last_login_at + u_seen
                        * min(SEEN_AFTER_LOGIN_MAX, now - last_login_at)).replace(microsecond=0)

    role = choose(ROLES, u_role)
    states = {
        "email_verification": choose(EMAIL_STATES, u_email),
        "identity_verification": choose(IDENTITY_STATES, u_identity),
        "professional_verification": pick(PROFESSIONAL_STATES, "professional", reader),
    }
    requested_at = None
    if V.PENDING in states.values():
        window_start = max(created_at, now - timedelta(days=VERIFICATION_WINDOW_DAYS))
        requested_at = (window_start + u_requested * (now - window_start)).replace(
            microsecond=0)
    return {
        "username": username_for(reader),
        "email": f"{username_for(reader)}@{EMAIL_DOMAIN}",
        "password_hash": None,
        "role": role,
        "is_admin": role == Role.LIBRARIAN,
        "account_status": AccountStatus.ACTIVE,
        **states,
        "verification_requested_at": requested_at,
        "created_at": created_at,
        "last_login_at": last_login_at,
        "last_seen_at": last_seen_at,
    }


def plan_members(readers, first_activity, now) -> list[dict]:
    """One User row per reader id, in ascending reader order."""
    return [_member(reader, first_activity.get(reader), now) for reader in sorted(readers)]
