"""`flask monitor check`: self-test of the monitoring against independent recounts."""
import math
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

import click
from flask import current_app
from flask_login import FlaskLoginClient

from ..extensions import cache, db
from ..library.models import AccountStatus, Role, User
from . import measured, recount, status
from .cli import monitor_cli
from .compare import compare
from .health import check_cache

PREFIX = "/api/analytics/monitor"
AREAS = ("users", "books", "loans", "analytics", "system")
FRESH = {"Cache-Control": "no-cache", "Accept": "application/json"}
METRIC_NAMES = (
    "library_book_loans_total", "library_book_returns_total", "library_user_registrations_total",
    "library_user_logins_total", "library_api_request_duration_seconds", "library_db_query_duration_seconds",
    "library_cache_operations_total", "library_active_users_total", "library_available_books_total",
    "library_system_status", "library_error_rate_percent",
)
# Keys that are not database counts: compared elsewhere (alerts) or measured (timings, uptime).
IGNORED = {"model", "timestamp", "alerts", "critical_alerts", "performance_overview", "uptime",
           "uptime_seconds", "status"}


class Report:
    """Collects ✅/❌ lines; `failed` is set by any ❌."""

    def __init__(self):
        self.failed = False

    def section(self, title):
        click.echo(f"\n{title}")

    def ok(self, message):
        click.echo(f"   ✅ {message}")

    def bad(self, message):
        self.failed = True
        click.echo(f"   ❌ {message}")

    def info(self, message):
        click.echo(f"   · {message}")


@dataclass(frozen=True)
class _Identity:
    id: int

    def get_id(self):
        return str(self.id)


class _AdminClient(FlaskLoginClient):
    """A test client logged in as `user` in-process, accepted by "strong" session protection."""

    def __init__(self, app, user_id):
        super().__init__(app, app.response_class, user=_Identity(user_id))
        with app.test_request_context(environ_base=self.environ_base):
            identifier = app.login_manager._session_identifier_generator()
        with self.session_transaction() as session:
            session["_id"] = identifier


class _Caller:
    """Runs each request on a worker thread, so it gets its own app context like a real request."""

    def __init__(self, client, anonymous):
        self.client = client
        self.anonymous = anonymous
        self.pool = ThreadPoolExecutor(max_workers=1)

    def get(self, path, headers=None, anonymous=False):
        client = self.anonymous if anonymous else self.client
        start = time.perf_counter()
        response = self.pool.submit(client.get, path, headers=headers or {}).result()
        return response, time.perf_counter() - start

    def close(self):
        self.pool.shutdown()


def _find_admin_id(username):
    """The id of the admin to act as, or None. Only the id: no ORM object outlives the transaction."""
    query = db.select(User.id).where(User.is_admin.is_(True), User.account_status == AccountStatus.ACTIVE)
    if username:
        found = db.session.execute(query.where(User.username == username)).scalar_one_or_none()
    else:
        found = db.session.execute(query.order_by(User.role != Role.ADMIN, User.id).limit(1)).scalar()
    db.session.rollback()  # SQLite holds its lock from BEGIN: end the read at once
    return found


def _timestamp(body) -> datetime:
    return datetime.fromisoformat(body["timestamp"].replace("Z", "+00:00"))


def _fetch(caller, area, report):
    response, seconds = caller.get(f"{PREFIX}/{area}/", FRESH)
    if response.status_code != 200 or not response.is_json:
        report.bad(f"{PREFIX}/{area}/: HTTP {response.status_code} {response.get_data(as_text=True)[:200]}")
        return None, seconds
    return response.get_json(), seconds


def check_endpoints(caller, report):
    """Every number of every endpoint against the recount at the endpoint's own timestamp."""
    report.section("🌐 Monitoring endpoints against an independent recount")
    settings = current_app.config
    for area in AREAS:
        body, seconds = _fetch(caller, area, report)
        if body is None:
            continue
        now = _timestamp(body)
        if area == "system":
            expected = recount.system(db.session, now, settings, cache_ok=check_cache(cache)["ok"])
        else:
            expected = recount.RECOUNTS[area](db.session, now, settings)
        db.session.rollback()  # release the read transaction (SQLite takes its lock at BEGIN)
        outcome = compare(body, expected, ignore=IGNORED)
        if area == "system":
            _check_uptime(body, outcome)
        label = f"{PREFIX}/{area}/"
        if outcome.mismatches:
            report.bad(f"{label}: {len(outcome.mismatches)} mismatch(es) ({seconds:.3f}s)")
            for line in outcome.mismatches:
                click.echo(f"        {line}")
        else:
            report.ok(f"{label}: OK ({seconds:.3f}s), {outcome.checked} values agree with the recount")


def _check_uptime(body, outcome):
    started = current_app.extensions.get("monitor_started_at")
    seconds = body.get("uptime_seconds")
    outcome.checked += 1
    if started is None or not isinstance(seconds, int) \
            or not 0 <= seconds <= (_timestamp(body) - started).total_seconds() + 1:
        outcome.fail("uptime_seconds", f"{seconds!r} is not the time since this app started")
        return
    days, rest = divmod(seconds // 60, 24 * 60)
    if body.get("uptime") != f"{days}d {rest // 60}h {rest % 60}m":
        outcome.fail("uptime", f"{body.get('uptime')!r} does not match uptime_seconds {seconds}")


def check_metrics(caller, report):
    """The /metrics gauges equal the endpoints' numbers they are built on."""
    from prometheus_client.parser import text_string_to_metric_families

    report.section("📊 /metrics against the endpoints")
    books, _ = _fetch(caller, "books", report)
    users, _ = _fetch(caller, "users", report)
    # Anonymous, as Prometheus scrapes: a logged-in request holds SQLite's lock
    # (user load at BEGIN IMMEDIATE) while the gauges read in a context of their own.
    response, _ = caller.get("/metrics", anonymous=True)
    if response.status_code != 200:
        report.bad(f"/metrics: HTTP {response.status_code}")
        return
    samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    pairs = (("library_available_books_total", books, "available_books"),
             ("library_active_users_total", users, "active_users"))
    for name, body, field in pairs:
        if body is None:
            continue
        found = samples.get(name, [])
        expected = body["overview"][field]
        if len(found) != 1:
            report.bad(f"{name}: {len(found)} samples in /metrics (expected one)")
        elif found[0].value != expected:
            report.bad(f"{name} = {found[0].value:g}, endpoint {field} = {expected}")
        else:
            report.ok(f"{name} = {found[0].value:g} equals the endpoint's {field}")
    for name in METRIC_NAMES:
        present = any(key == name or key.startswith(name + "_") for key in samples)
        report.info(f"{name}: {'present' if present else 'no samples yet in this process'}")


def check_alerts(caller, report):
    """Evaluate the threshold rules now and compare with the system endpoint's alerts."""
    report.section("🚨 Alert rules evaluated now")
    body, _ = _fetch(caller, "system", report)
    if body is None:
        return
    settings = current_app.config
    inputs = recount.rule_inputs(db.session, _timestamp(body), settings)
    db.session.rollback()
    times = measured.response_times()
    error_rate = measured.error_rate_percent()
    inputs["error_rate"] = round(error_rate, 2) if error_rate is not None else None
    api = times.get("avg_api_response")
    inputs["response_time"] = round(api * 1000, 2) if api is not None else None
    shown = {alert["rule"]: alert for alert in body.get("alerts", [])}
    icons = {status.HEALTHY: "🟢", status.WARNING: "🟡", status.CRITICAL: "🔴"}
    for rule in status.RULES:
        value = inputs.get(rule.name)
        threshold = settings[rule.setting]
        if value is None:
            report.info(f"{rule.name}: not evaluated (nothing measured in this process yet)")
            continue
        severity = status.level(rule, value, threshold)
        line = (f"{icons[severity]} {rule.name}: {value}{rule.unit} (must stay {rule.direction} "
                f"{threshold}{rule.unit}) → {severity}")
        if rule.name in ("error_rate", "response_time"):
            report.info(line + " (measured in this process; the endpoint saw its own measurement)")
            continue
        endpoint_severity = shown.get(rule.name, {}).get("severity", status.HEALTHY)
        if endpoint_severity == severity:
            report.ok(line + "; the system endpoint agrees")
        else:
            report.bad(line + f"; the system endpoint says {endpoint_severity}")
    critical = [a["rule"] for a in body.get("alerts", []) if a["severity"] == status.CRITICAL]
    if [a["rule"] for a in body.get("critical_alerts", [])] == critical:
        report.ok(f"critical_alerts lists exactly the critical rules: {critical or 'none'}")
    else:
        report.bad(f"critical_alerts {body.get('critical_alerts')} is not the critical subset of alerts")


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def check_performance(caller, report, requests):
    """Time each endpoint in-process: `requests` fresh and `requests` cached calls."""
    report.section(f"⏱️  Endpoint latency in-process ({requests} requests each; no network)")
    limit = current_app.config["ALERT_RESPONSE_TIME_MS"]
    for area in AREAS:
        rows = []
        for label, headers in (("fresh", FRESH), ("cached", {"Accept": "application/json"})):
            times = []
            for _ in range(requests):
                response, seconds = caller.get(f"{PREFIX}/{area}/", headers)
                if response.status_code != 200:
                    report.bad(f"{PREFIX}/{area}/: HTTP {response.status_code}")
                    return
                times.append(seconds * 1000)
            rows.append((label, _percentile(times, 0.5), _percentile(times, 0.95), max(times)))
        text = "; ".join(f"{label} p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {top:.1f} ms"
                         for label, p50, p95, top in rows)
        if rows[0][2] < limit:
            report.ok(f"{PREFIX}/{area}/: {text}")
        else:
            report.bad(f"{PREFIX}/{area}/: {text} (fresh p95 over ALERT_RESPONSE_TIME_MS={limit:g})")


@monitor_cli.command("check")
@click.option("--endpoints", is_flag=True, help="Check every number of the five endpoints against a recount.")
@click.option("--metrics", is_flag=True, help="Check the /metrics gauges against the endpoints.")
@click.option("--alerts", is_flag=True, help="Evaluate the threshold rules now and compare with the endpoint.")
@click.option("--performance", is_flag=True, help="Time each endpoint (fresh and cached).")
@click.option("--all", "run_all", is_flag=True, help="All of the above (the default when no option is given).")
@click.option("--admin", "admin_username", metavar="USERNAME",
              help="The existing administrator to call the endpoints as (default: the first admin).")
@click.option("--requests", "requests", default=20, show_default=True, type=click.IntRange(1, 10000),
              help="Requests per endpoint and mode for --performance.")
def check(endpoints, metrics, alerts, performance, run_all, admin_username, requests):
    """Self-test the monitoring: call the endpoints in-process as an existing admin and
    check every number against an independent recount and /metrics.

    Exits 0 when everything agrees, 1 on any mismatch, 2 when it cannot run
    (no administrator account). Never creates users.
    """
    if run_all or not (endpoints or metrics or alerts or performance):
        endpoints = metrics = alerts = performance = True
    admin_id = _find_admin_id(admin_username)
    if admin_id is None:
        who = f"active administrator named {admin_username!r}" if admin_username else "active administrator"
        click.echo(f"❌ No {who} in this database: create one with `flask create-admin`.", err=True)
        sys.exit(2)
    click.echo("🧪 Monitoring self-test")
    report = Report()
    app = current_app._get_current_object()
    caller = _Caller(_AdminClient(app, admin_id), app.test_client())
    try:
        if endpoints:
            check_endpoints(caller, report)
        if metrics:
            check_metrics(caller, report)
        if alerts:
            check_alerts(caller, report)
        if performance:
            check_performance(caller, report, requests)
    finally:
        caller.close()
        db.session.rollback()
    if report.failed:
        click.echo("\n❌ Monitoring self-test found problems (see ❌ above).")
        sys.exit(1)
    click.echo("\n✅ Monitoring self-test passed.")
