"""Password login shared by the JSON API and the HTML form.

One place checks credentials, records the LoginEvent, renews the session and
declares the failed-login rate limits, so both ways in behave the same and
share one counter per account and per client address.
"""
from dataclasses import dataclass

from flask import current_app, g, request, session
from flask_limiter.util import get_remote_address
from flask_login import login_user
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db, limiter
from ..timeutil import utcnow
from .models import LoginEvent, User

BAD_CREDENTIALS = "Invalid username or password"
SUSPENDED = "This account is suspended"


@dataclass(frozen=True)
class LoginResult:
    """Outcome of a login attempt: `user` is set only on success."""

    status: int
    message: str | None = None
    user: User | None = None


def _dummy_hash() -> str:
    # Checking a real hash for unknown usernames keeps the response time the
    # same as for a wrong password, so timing does not reveal which names exist.
    value = current_app.extensions.get("library_dummy_hash")
    if value is None:
        value = generate_password_hash("not-a-real-password")
        current_app.extensions["library_dummy_hash"] = value
    return value


def attempt_login(username: str, password: str) -> LoginResult:
    """Check the credentials; on success start a fresh session for the user.

    Every attempt is recorded as a LoginEvent. Failures set `g.login_failed`,
    which is what the rate limits count.
    """
    user = db.session.execute(db.select(User).filter_by(username=username)).scalar_one_or_none()
    if user is None:
        check_password_hash(_dummy_hash(), password)
        return _failed(None, 401, BAD_CREDENTIALS)
    if not user.check_password(password):
        return _failed(user, 401, BAD_CREDENTIALS)
    if not user.is_active:
        return _failed(user, 403, SUSPENDED)

    now = utcnow()
    user.last_login_at = now
    user.last_seen_at = now
    db.session.add(LoginEvent(user_id=user.id, success=True, created_at=now))
    db.session.commit()
    start_session(user)
    return LoginResult(200, user=user)


def _failed(user, status, message) -> LoginResult:
    db.session.add(LoginEvent(user_id=user.id if user else None, success=False, created_at=utcnow()))
    db.session.commit()
    g.login_failed = True
    return LoginResult(status, message)


def start_session(user: User) -> None:
    """Renew the session: nothing stored before login survives it."""
    session.clear()
    login_user(user)


def _submitted_username() -> str:
    data = request.get_json(silent=True) if request.is_json else request.form
    name = data.get("username") if hasattr(data, "get") else None
    if not isinstance(name, str) or not name.strip():
        return "(none)"
    return name.strip().lower()


def _failed_attempt(_response) -> bool:
    return bool(g.get("login_failed"))


# Shared scopes: the API and the form draw from the same counters.
limit_per_account = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ACCOUNT"],
    scope="login-account",
    methods=["POST"],
    key_func=_submitted_username,
    deduct_when=_failed_attempt,
    error_message="Too many failed login attempts for this account; try again later",
)
limit_per_address = limiter.shared_limit(
    lambda: current_app.config["LOGIN_RATE_LIMIT_ADDRESS"],
    scope="login-address",
    methods=["POST"],
    key_func=get_remote_address,
    deduct_when=_failed_attempt,
    error_message="Too many failed login attempts from this address; try again later",
)
