"""Browser pages: login form, logout, home page."""
from flask import current_app, redirect, render_template, request, session, url_for
from flask_limiter.errors import RateLimitExceeded
from flask_login import current_user, logout_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import RequestRedirect

from ..auth import login_required
from .blueprint import bp
from .forms import LoginForm, LogoutForm
from .login import attempt_login, limit_per_account, limit_per_address
from .redirects import safe_next

# Pages an administrator may want; only those this app serves are linked.
ADMIN_LINKS = (
    ("System overview", "/api/analytics/monitor/system/"),
    ("Users", "/api/analytics/monitor/users/"),
    ("Books", "/api/analytics/monitor/books/"),
    ("Loans", "/api/analytics/monitor/loans/"),
    ("Analytics", "/api/analytics/monitor/analytics/"),
    ("Alerts", "/api/analytics/monitor/alerts/"),
    ("Jobs", "/api/analytics/monitor/jobs/"),
    ("Prometheus metrics", "/metrics"),
    ("OpenAPI document", "/api/openapi.json"),
)


def _requested_next() -> str:
    return safe_next(request.form.get("next") or request.args.get("next"))


def _render_login(form, status=200, error=None):
    form.next.data = _requested_next()
    return render_template("login.html", form=form, error=error), status


@bp.route("/login", methods=["GET", "POST"])
@limit_per_account
@limit_per_address
def login():
    """Login form; on success go to a safe `next` (or home)."""
    if request.method == "GET" and current_user.is_authenticated:
        return redirect(_requested_next())
    form = LoginForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return _render_login(form, status)
    result = attempt_login(form.username.data, form.password.data)
    if result.user is None:
        return _render_login(form, result.status, result.message)
    return redirect(_requested_next())


@bp.errorhandler(CSRFError)
def _csrf_failed(exc):
    if request.endpoint != "library.login":
        return exc
    return _render_login(LoginForm(formdata=None), 400,
                         "The form expired or did not come from this site. Please try again.")


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(exc):
    if request.endpoint != "library.login":
        return exc
    return _render_login(LoginForm(formdata=None), 429, exc.description)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session and go back to the login form."""
    logout_user()
    session.clear()
    return redirect(url_for("library.login"))


@bp.route("/")
@login_required
def home():
    """Who is logged in and, for staff, links to the monitoring views."""
    links = [(label, path) for label, path in ADMIN_LINKS if _served(path)] if current_user.is_admin else []
    return render_template("home.html", links=links, logout_form=LogoutForm())


def _served(path: str) -> bool:
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(path, method="GET")
    except RequestRedirect:  # served, under the slash-normalised path
        return True
    except (NotFound, MethodNotAllowed):
        return False
    return True
