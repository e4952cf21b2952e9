"""Library CLI: `flask library import PATH`, `flask create-admin`."""
from flask.cli import AppGroup

library_cli = AppGroup("library", help="Library catalogue commands.")


def init_app(app):
    app.cli.add_command(library_cli)
