"""The monitor blueprint: admin-only monitoring endpoints and health checks."""
from flask import Blueprint

bp = Blueprint("monitor", __name__)


def init_app(app):
    """Register the monitoring views, health checks and CLI commands."""
    from . import cli, health, views  # noqa: F401  (views attach to bp)
    from . import models, ops  # noqa: F401  (jobs and alerts tables)

    app.register_blueprint(bp)
    cli.init_app(app)
    ops.init_app(app)
