"""`flask monitor check` through the CLI runner: passes on true numbers, names a broken one."""
import pytest

from app.extensions import db
from app.library.models import User
from app.monitor.stats import books as books_stats
from app.timeutil import utcnow
from tests import monitor_data as data
from tests.factories import Factory

AREAS = ("users", "books", "loans", "analytics", "system")


@pytest.fixture
def seeded(any_app):
    with any_app.app_context():
        data.build(Factory(), utcnow())
    return any_app


def _users(app):
    with app.app_context():
        return db.session.execute(db.select(User.id, User.username, User.password_hash).order_by(User.id)).all()


def test_all_passes_on_true_numbers_and_creates_no_user(seeded):
    before = _users(seeded)
    result = seeded.test_cli_runner().invoke(args=["monitor", "check", "--all", "--requests", "2"])
    assert result.exit_code == 0, result.output
    for area in AREAS:
        assert f"✅ /api/analytics/monitor/{area}/: OK" in result.output
    assert "✅ library_available_books_total = 4 equals the endpoint's available_books" in result.output
    assert "✅ library_active_users_total = 3 equals the endpoint's active_users" in result.output
    assert "✅ 🔴 overdue_rate: 50.0% (must stay below 10.0%) → critical; the system endpoint agrees" in result.output
    assert "❌" not in result.output
    assert result.output.rstrip().endswith("✅ Monitoring self-test passed.")
    assert _users(seeded) == before


def test_broken_number_fails_and_is_named(seeded, monkeypatch):
    real = books_stats.books_overview

    def off_by_one(session):
        overview = real(session)
        overview["available_books"] += 1
        return overview

    monkeypatch.setattr(books_stats, "books_overview", off_by_one)
    result = seeded.test_cli_runner().invoke(args=["monitor", "check", "--endpoints", "--metrics"])
    assert result.exit_code == 1, result.output
    assert "❌ /api/analytics/monitor/books/: 1 mismatch(es)" in result.output
    assert "overview.available_books: endpoint 5, recount 4" in result.output
    # /metrics reads the real function: the gauge no longer matches the (broken) endpoint.
    assert "❌ library_available_books_total = 4, endpoint available_books = 5" in result.output
    assert "✅ /api/analytics/monitor/users/: OK" in result.output
    assert result.output.rstrip().endswith("❌ Monitoring self-test found problems (see ❌ above).")


def test_broken_ranking_is_caught(seeded, monkeypatch):
    real = books_stats.popularity_metrics

    def stale(session):
        metrics = real(session)
        metrics["most_borrowed"][0]["borrows"] = 7
        return metrics

    monkeypatch.setattr(books_stats, "popularity_metrics", stale)
    result = seeded.test_cli_runner().invoke(args=["monitor", "check", "--endpoints"])
    assert result.exit_code == 1, result.output
    assert "popularity_metrics.most_borrowed: endpoint values [7, 3, 3, 1], recount top 10 values [4, 3, 3, 1]" \
        in result.output
    assert "title 'Dune' with borrows 7 not in the recount" in result.output


def test_a_number_without_recount_fails(seeded, monkeypatch):
    real = books_stats.inventory_metrics

    def extra(session, settings):
        return {**real(session, settings), "invented": 42}

    monkeypatch.setattr(books_stats, "inventory_metrics", extra)
    result = seeded.test_cli_runner().invoke(args=["monitor", "check", "--endpoints"])
    assert result.exit_code == 1
    assert "inventory_metrics.invented: a number with no independent recount" in result.output


def test_without_admin_exits_2(app, make):
    make.user("plain_member")
    result = app.test_cli_runner().invoke(args=["monitor", "check"])
    assert result.exit_code == 2
    assert "No an active administrator" not in result.output
    assert "❌ No active administrator in this database: create one with `flask create-admin`." in result.output
    assert len(_users(app)) == 1


def test_named_admin_must_exist(app, make):
    make.admin("root_keeper")
    result = app.test_cli_runner().invoke(args=["monitor", "check", "--admin", "nobody"])
    assert result.exit_code == 2
    assert "❌ No active administrator named 'nobody' in this database" in result.output


def test_performance_only(app, make):
    make.admin("root_keeper")
    result = app.test_cli_runner().invoke(args=["monitor", "check", "--performance", "--requests", "3"])
    assert result.exit_code == 0, result.output
    assert "Endpoint latency in-process (3 requests each; no network)" in result.output
    for area in AREAS:
        assert f"✅ /api/analytics/monitor/{area}/: fresh p50 " in result.output
    assert "against an independent recount" not in result.output
