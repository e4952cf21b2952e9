"""Session authentication (Flask-Login) and the admin_required decorator."""
from functools import wraps
from urllib.parse import urlencode

from flask import redirect, request
from flask_login import current_user

from .errors import error_response, wants_json
from .extensions import db, login_manager


def _unauthorized():
    if wants_json():
        return error_response(401, "Authentication required")
    return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))


def login_required(view):
    """401 JSON for API clients, a redirect to the login page for browsers."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _unauthorized()
        return view(*args, **kwargs)

    return wrapper


def admin_required(view):
    """Admins and librarians only: 401 when anonymous, 403 JSON when not staff."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _unauthorized()
        if not current_user.is_admin:
            return error_response(403, "Administrator access required")
        return view(*args, **kwargs)

    return wrapper


def _load_user(user_id: str):
    from .library.models import User

    if not user_id.isdigit():
        return None
    return db.session.get(User, int(user_id))


def init_app(app):
    login_manager.init_app(app)
    login_manager.user_loader(_load_user)
    login_manager.unauthorized_handler(_unauthorized)
    login_manager.session_protection = "strong"
