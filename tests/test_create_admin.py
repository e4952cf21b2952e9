"""`flask create-admin`: creates the admin once, never with a fixed password."""
import re

from sqlalchemy import func, select

from app.extensions import db
from app.library.models import User

GENERATED = re.compile(r"Generated password \(shown once, set ADMIN_PASSWORD to choose one\): (\S+)\n")


def _admin(username="admin"):
    return db.session.execute(select(User).filter_by(username=username)).scalar_one_or_none()


def test_creates_admin_with_generated_password(app, runner):
    result = runner.invoke(args=["create-admin"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Admin 'admin' created.\n")
    password = GENERATED.search(result.output).group(1)
    assert len(password) >= 24
    with app.app_context():
        admin = _admin()
        assert (admin.role, admin.is_admin, admin.account_status) == ("admin", True, "active")
        assert (admin.email_verification, admin.identity_verification, admin.professional_verification) == (
            "approved", "approved", "approved")
        assert admin.email == "admin@library.invalid"
        assert admin.check_password(password)
        assert admin.created_at is not None


def test_login_with_generated_password(app, runner, client):
    password = GENERATED.search(runner.invoke(args=["create-admin"]).output).group(1)
    assert client.post("/api/auth/login", json={"username": "admin", "password": password}).status_code == 200
    assert client.post("/api/auth/login", json={"username": "admin", "password": "wrong password"}).status_code \
        == 401


def test_generated_passwords_differ(app, runner):
    first = GENERATED.search(runner.invoke(args=["create-admin"]).output).group(1)
    second = GENERATED.search(runner.invoke(args=["create-admin", "--reset-password"]).output).group(1)
    assert first != second


def test_uses_configured_name_and_password(app, runner):
    app.config.update(ADMIN_USERNAME="boss", ADMIN_PASSWORD="s3cret-enough")
    result = runner.invoke(args=["create-admin"])
    assert result.exit_code == 0
    assert result.output == "Admin 'boss' created.\n"  # nothing printed about the password
    with app.app_context():
        assert _admin("boss").check_password("s3cret-enough")
        assert _admin("admin") is None


def test_existing_admin_is_left_unchanged(app, runner):
    app.config["ADMIN_PASSWORD"] = "first-password"
    runner.invoke(args=["create-admin"])
    with app.app_context():
        before = _admin().password_hash
    app.config["ADMIN_PASSWORD"] = "second-password"
    result = runner.invoke(args=["create-admin"])
    assert result.exit_code == 0
    assert result.output == "Admin 'admin' already exists; nothing changed.\n"
    with app.app_context():
        assert _admin().password_hash == before
        assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_reset_password(app, runner):
    app.config["ADMIN_PASSWORD"] = "first-password"
    runner.invoke(args=["create-admin"])
    app.config["ADMIN_PASSWORD"] = "second-password"
    result = runner.invoke(args=["create-admin", "--reset-password"])
    assert result.exit_code == 0
    assert result.output == "Admin 'admin' password reset.\n"
    with app.app_context():
        assert _admin().check_password("second-password")
        assert not _admin().check_password("first-password")


def test_username_option(app, runner):
    result = runner.invoke(args=["create-admin", "--username", "root", "--email", "root@example.org"])
    assert result.exit_code == 0
    with app.app_context():
        assert (_admin("root").email, _admin("root").is_admin) == ("root@example.org", True)


def test_refuses_to_promote_a_non_admin(app, runner, make):
    with app.app_context():
        make.user("admin")
        before = _admin().password_hash
    result = runner.invoke(args=["create-admin"])
    assert result.exit_code == 1
    assert "Error: user 'admin' exists and is not an admin; nothing changed" in result.output
    with app.app_context():
        assert (_admin().role, _admin().is_admin, _admin().password_hash) == ("member", False, before)


def test_short_configured_password_is_refused(app, runner):
    app.config["ADMIN_PASSWORD"] = "short"
    result = runner.invoke(args=["create-admin"])
    assert result.exit_code == 1
    assert "Error: ADMIN_PASSWORD must have at least 8 characters" in result.output
    with app.app_context():
        assert _admin() is None
