"""The library blueprint: catalogue, members, loans, reservations, search."""
from flask import Blueprint

from . import models  # noqa: F401  (registers the tables with SQLAlchemy)

# Browser pages (login form, home page). JSON API blueprints live in api_*.py.
bp = Blueprint("library", __name__, template_folder="templates")


def init_app(app):
    """Register the library's pages, JSON API blueprints and CLI commands."""
    from ..extensions import api, csrf
    from . import activity, api_auth, api_catalogue, api_lending, cli, jsonapi, views  # noqa: F401

    app.register_blueprint(bp)
    api_blueprints = (api_auth.blp, api_catalogue.blp, api_lending.blp)
    for blueprint in api_blueprints:
        csrf.exempt(blueprint)  # JSON-only endpoints; see jsonapi for the CSRF reasoning
        api.register_blueprint(blueprint)
    jsonapi.init_app(app, [blueprint.name for blueprint in api_blueprints])
    activity.init_app(app)
    cli.init_app(app)
