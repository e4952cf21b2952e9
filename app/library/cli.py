"""Library CLI: `flask library import PATH`, `flask create-admin`."""
import secrets

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from ..extensions import db
from ..timeutil import utcnow
from .importer import ImportDataError, run_import
from .models import AccountStatus, Role, User, VerificationStatus

library_cli = AppGroup("library", help="Library catalogue commands.")

MIN_ADMIN_PASSWORD = 8


@library_cli.command("import")
@click.argument("path", type=click.Path(file_okay=False, path_type=str))
@click.option("--progress/--no-progress", default=True, show_default=True,
              help="Show a progress bar on stderr.")
def import_command(path, progress):
    """Import the goodbooks-10k CSV files in PATH: books, authors, categories,
    members and their loan history. Does nothing if the catalogue is already there."""
    try:
        result = run_import(path, progress=progress)
    except ImportDataError as exc:
        raise click.ClickException(f"cannot import: {exc}") from None
    if result.skipped:
        click.echo(f"Catalogue already present ({result.counts['books']} books): nothing imported.")
        return
    click.echo("Imported " + ", ".join(f"{name.replace('_', ' ')}: {value}"
                                       for name, value in result.counts.items()) + ".")
    click.echo(f"Took {result.seconds['total']:.1f} s (" + ", ".join(
        f"{name} {seconds:.1f} s" for name, seconds in result.seconds.items() if name != "total") + ").")


def ensure_admin(username, email, password, reset_password=False):
    """Create the admin account, or reset its password when asked.

    Returns (user, action, generated password or None); action is "created",
    "reset" or "unchanged". Raises ValueError for a name held by a non-admin.
    """
    user = db.session.execute(select(User).filter_by(username=username)).scalar_one_or_none()
    # Each early exit ends the read transaction: on SQLite it holds the write lock.
    if user is not None and user.role != Role.ADMIN:
        db.session.rollback()
        raise ValueError(f"user {username!r} exists and is not an admin; nothing changed")
    if user is not None and not reset_password:
        db.session.rollback()
        return user, "unchanged", None
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(18)
    if len(password) < MIN_ADMIN_PASSWORD:
        db.session.rollback()
        raise ValueError(f"ADMIN_PASSWORD must have at least {MIN_ADMIN_PASSWORD} characters")
    action = "reset"
    if user is None:
        action = "created"
        user = User(username=username, email=email, role=Role.ADMIN, is_admin=True,
                    account_status=AccountStatus.ACTIVE, email_verification=VerificationStatus.APPROVED,
                    identity_verification=VerificationStatus.APPROVED,
                    professional_verification=VerificationStatus.APPROVED, created_at=utcnow())
        db.session.add(user)
    user.set_password(password)
    db.session.commit()
    return user, action, generated


@click.command("create-admin")
@with_appcontext
@click.option("--username", default=None, help="Admin user name (default: ADMIN_USERNAME, else 'admin').")
@click.option("--email", default=None, help="Admin e-mail address (default: <username>@library.invalid).")
@click.option("--reset-password", is_flag=True,
              help="Set a new password (ADMIN_PASSWORD, else a generated one) if the admin exists.")
def create_admin_command(username, email, reset_password):
    """Make sure the admin account exists. Its password is ADMIN_PASSWORD, or a
    generated one printed once. An existing admin is left unchanged."""
    username = username or current_app.config["ADMIN_USERNAME"]
    try:
        user, action, generated = ensure_admin(username, email or f"{username}@library.invalid",
                                               current_app.config.get("ADMIN_PASSWORD"), reset_password)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if action == "unchanged":
        click.echo(f"Admin {username!r} already exists; nothing changed.")
        return
    click.echo(f"Admin {username!r} {'created' if action == 'created' else 'password reset'}.")
    if generated:
        click.echo(f"Generated password (shown once, set ADMIN_PASSWORD to choose one): {generated}")


def init_app(app):
    """Register `flask library ...` and `flask create-admin`."""
    app.cli.add_command(library_cli)
    app.cli.add_command(create_admin_command)
