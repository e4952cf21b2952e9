"""Auth API: register, login, logout, me (session cookie authentication)."""
from flask import session
from flask_login import current_user, logout_user
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError

from ..auth import login_required
from ..errors import error_response
from ..extensions import db
from ..timeutil import utcnow
from .login import attempt_login, limit_per_account, limit_per_address
from .models import Role, User, VerificationStatus

blp = Blueprint("api_auth", __name__, url_prefix="/api", description="Registration and session login.")

USERNAME_PATTERN = r"^[A-Za-z0-9._-]+$"


class RegisterSchema(Schema):
    username = fields.String(required=True, validate=[
        validate.Length(min=3, max=80),
        validate.Regexp(USERNAME_PATTERN, error="Use only letters, digits, '.', '_' and '-'."),
    ])
    email = fields.Email(required=True, validate=validate.Length(max=255))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=10, max=1000))


class LoginSchema(Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=80))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=1000))


class PublicUserSchema(Schema):
    id = fields.Integer()
    username = fields.String()
    role = fields.String()


class SessionUserSchema(PublicUserSchema):
    is_admin = fields.Boolean()


def _taken(username: str, email: str) -> str | None:
    """Which of username/email already belongs to someone (case-insensitive)."""
    for field, column, value in (("username", User.username, username), ("email", User.email, email)):
        exists = db.session.execute(
            db.select(User.id).where(func.lower(column) == value.lower()).limit(1)
        ).first()
        if exists:
            return field
    return None


@blp.post("/auth/register")
@blp.arguments(RegisterSchema)
@blp.response(201, PublicUserSchema)
@blp.alt_response(409, description="Username or email already registered")
def register(data):
    """Create a member account (email verification pending)."""
    username, email = data["username"], data["email"].strip()
    taken = _taken(username, email)
    if taken:
        return error_response(409, f"That {taken} is already registered", field=taken)
    now = utcnow()
    user = User(username=username, email=email, role=Role.MEMBER, is_admin=False,
                email_verification=VerificationStatus.PENDING, verification_requested_at=now,
                created_at=now)
    user.set_password(data["password"])
    db.session.add(user)
    try:
        db.session.commit()
    except IntegrityError:  # a concurrent registration won the race
        db.session.rollback()
        taken = _taken(username, email) or "username"
        return error_response(409, f"That {taken} is already registered", field=taken)
    return user


@blp.post("/auth/login")
@blp.arguments(LoginSchema)
@blp.response(200, SessionUserSchema)
@blp.alt_response(401, description="Wrong username or password")
@blp.alt_response(403, description="Account suspended")
@blp.alt_response(429, description="Too many failed attempts for this account or address")
@limit_per_account
@limit_per_address
def login(data):
    """Log in with username and password; sets the session cookie."""
    result = attempt_login(data["username"], data["password"])
    if result.user is None:
        return error_response(result.status, result.message)
    return result.user


@blp.post("/auth/logout")
@blp.response(204)
def logout():
    """End the session (also fine when not logged in)."""
    logout_user()
    session.clear()
    return None


@blp.get("/auth/me")
@blp.response(200, SessionUserSchema)
@blp.alt_response(401, description="Not logged in")
@login_required
def me():
    """The logged-in user."""
    return current_user
