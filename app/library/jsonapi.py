"""JSON-only request bodies for the API blueprints.

A POST/PUT/PATCH/DELETE that carries a body must send it as `application/json`
(415 otherwise) and the body must parse (400 otherwise), so clients get an
error that names the problem instead of a generic validation error or a 500.

Why the API blueprints are exempt from CSRF tokens: a cross-site page can only
make a browser send form encodings or text/plain without asking first; a
cross-site request with `Content-Type: application/json` needs a CORS preflight,
which this app never grants (it sends no Access-Control-Allow-* headers). Since
this hook refuses every non-JSON body before the view runs, a forged
cross-site form post never reaches an API view. The session cookie is also
SameSite=Lax, so it is not sent on cross-site POSTs at all. The HTML form at
/login keeps Flask-WTF's CSRF token because it accepts form posts.
"""
from flask import request
from werkzeug.exceptions import BadRequest

from ..errors import error_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _has_body() -> bool:
    if request.content_length:
        return True
    return "chunked" in request.headers.get("Transfer-Encoding", "").lower()


def require_json_body():
    """before_request: 415 for a non-JSON body, 400 for a body that does not parse."""
    if request.method not in BODY_METHODS or not _has_body():
        return None
    if not request.is_json:
        sent = request.mimetype or "none"
        return error_response(415, f"Request body must be application/json (Content-Type was {sent})",
                              content_type=sent)
    try:
        request.get_json()
    except (BadRequest, RecursionError):  # RecursionError: nesting deeper than the parser can follow
        return error_response(400, "Request body is not valid JSON")
    return None


def init_app(app, blueprint_names):
    """Apply the JSON body check to requests handled by the named blueprints."""
    names = frozenset(blueprint_names)

    def _check():
        if request.blueprint in names:
            return require_json_body()
        return None

    app.before_request(_check)
