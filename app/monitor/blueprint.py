"""The monitor blueprint: admin-only monitoring endpoints and health checks."""
from flask import Blueprint

bp = Blueprint("monitor", __name__)


def init_app(app):
    """Register the monitoring views and CLI commands."""
    app.register_blueprint(bp)
