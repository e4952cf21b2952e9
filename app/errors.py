"""JSON errors for API clients: every 4xx/5xx names its problem."""
import logging

from flask import jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)


def wants_json() -> bool:
    """API paths, and any client that prefers JSON over HTML, get JSON errors."""
    if request.path.startswith("/api/") or request.path in ("/metrics", "/healthz", "/readyz"):
        return True
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "application/json"


def error_response(status: int, message: str, **details):
    body = {"error": {"code": status, "message": message}}
    if details:
        body["error"].update(details)
    return jsonify(body), status


def _handle_http_exception(exc: HTTPException):
    if not wants_json():
        return exc
    details = {}
    data = getattr(exc, "data", None)  # webargs/flask-smorest validation messages
    if isinstance(data, dict) and data.get("messages"):
        details["fields"] = data["messages"]
    message = exc.description or exc.name
    if details.get("fields"):
        message = "Invalid input: " + _summarise(details["fields"])
    response, status = error_response(exc.code or 500, message, **details)
    for key, value in (exc.get_headers() or []):
        if key.lower() not in ("content-type", "content-length"):
            response.headers[key] = value
    return response, status


def _summarise(fields, prefix="") -> str:
    parts = []
    for key, value in fields.items():
        name = f"{prefix}{key}" if key not in ("json", "query", "form") else prefix
        if isinstance(value, dict):
            parts.append(_summarise(value, f"{name}." if name else ""))
        else:
            parts.append(f"{name}: {' '.join(map(str, value))}")
    return "; ".join(p for p in parts if p)


def _handle_unexpected(exc: Exception):
    log.exception("unhandled error on %s %s", request.method, request.path)
    if wants_json():
        return error_response(500, "Internal server error")
    return InternalServerError()


def init_app(app):
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)
