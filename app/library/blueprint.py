"""The library blueprint: catalogue, members, loans, reservations, search."""
from flask import Blueprint

from . import models  # noqa: F401  (registers the tables with SQLAlchemy)

bp = Blueprint("library", __name__)


def init_app(app):
    """Register the library's views and CLI commands."""
    app.register_blueprint(bp)
