"""Monitoring CLI group: `flask monitor ...`.

Commands register themselves on `monitor_cli` from their own modules
(check_cli: `flask monitor check`; collect_cli: `flask monitor collect`).
"""
from flask.cli import AppGroup

monitor_cli = AppGroup("monitor", help="Monitoring commands.")


def init_app(app):
    from . import check_cli, collect_cli  # noqa: F401  (register `check`, `collect`)

    app.cli.add_command(monitor_cli)
