"""Who may open the monitoring endpoints under /api/analytics/monitor/."""
from functools import wraps
from urllib.parse import urlencode

from flask import redirect, request
from flask_login import current_user

from ..auth import admin_required


def monitor_access(view):
    """admin_required, except that an anonymous browser asking for HTML is sent to the login page.

    app.errors.wants_json() answers JSON for every /api/ path, so admin_required alone
    never redirects here; these pages are also opened from the browser.
    """
    guarded = admin_required(view)

    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated and _prefers_html():
            return redirect("/login?" + urlencode({"next": request.full_path.rstrip("?")}))
        return guarded(*args, **kwargs)

    return wrapper


def _prefers_html() -> bool:
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"
