"""No thread keeps a SQLite transaction open while it waits for anything.

Every SQLite transaction takes the write lock (BEGIN IMMEDIATE, app/database.py),
so a thread that waits - for a lock, for the network, for the next period - with
a transaction open makes every other connection wait out the busy timeout, or
deadlocks with a thread that waits for it. Each test waits for something real
while another connection tries BEGIN IMMEDIATE with a short timeout.
"""
import sqlite3
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from app import telemetry
from app.extensions import db
from app.monitor.jobs import evaluate_alerts
from app.monitor.models import AlertHistory, JobRun
from app.monitor.scheduling.embedded import EmbeddedScheduler
from app.telemetry import business
from app.timeutil import utcnow
from tests.factories import Factory, login

BUSY_MS = 3000


@pytest.fixture
def app_config():
    return {"SQLITE_BUSY_TIMEOUT_MS": BUSY_MS, "ALERT_FOR_SECONDS": 0, "MONITOR_COLLECT_INTERVAL_SECONDS": 2}


def db_path(app) -> str:
    return app.config["SQLALCHEMY_DATABASE_URI"].removeprefix("sqlite:///")


def can_write_within(path: str, seconds: float) -> bool:
    """Whether another connection takes the write lock within `seconds`."""
    conn = sqlite3.connect(path, timeout=seconds, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        conn.close()


def test_logged_in_scrape_while_another_thread_collects_answers_at_once(app):
    """The OpenTelemetry SDK runs one collection at a time (a lock around every callback).

    A logged-in scrape holds a transaction from loading its user; if it queued for
    that lock with the transaction still open while another thread's collection
    (the OTLP reader's, a flush) read the database, each would wait for the other
    until the busy timeout - the 30 s hang and 503 seen under `flask run`.
    """
    with app.app_context():
        make = Factory()
        make.admin("boss")
        make.book("Dune", copies=3)
    client = app.test_client()
    assert login(client, "boss").status_code == 200

    collector_inside, release = threading.Event(), threading.Event()
    reads = []

    def hold(options):
        if threading.current_thread().name == "collector":
            collector_inside.set()
            release.wait(10)
        return []

    def count_after_hold(session):
        reads.append((threading.current_thread().name, business.count_loans(session)))
        return reads[-1][1]

    meter = telemetry.meter_for(app)
    meter.create_observable_gauge("test_hold", callbacks=[hold])
    meter.create_observable_gauge("test_read_after_hold", callbacks=[business.db_callback(app, count_after_hold)])

    collector = threading.Thread(target=telemetry.force_flush, args=(app,), name="collector")
    collector.start()
    assert collector_inside.wait(10)
    scrape = {}

    def scrape_metrics():
        started = time.monotonic()
        response = client.get("/metrics")
        scrape.update(status=response.status_code, elapsed=time.monotonic() - started)

    scraper = threading.Thread(target=scrape_metrics, name="scraper")
    scraper.start()
    time.sleep(0.5)  # the scrape loads its user, then queues behind the collector's collection
    release.set()
    collector.join(15)
    scraper.join(15)

    assert scrape["status"] == 200
    assert scrape["elapsed"] < 2.0, f"scrape took {scrape['elapsed']:.1f}s: a lock wait with a transaction open"
    assert ("collector", 0) in reads  # the other thread's read got the database, not "database is locked"
    assert ("scraper", 0) in reads


class BlockingReceiver:
    """A webhook/Alertmanager receiver that, while it holds each POST, checks the database is free."""

    def __init__(self, path):
        self.seen = []  # (request path, could another connection write meanwhile)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.seen.append((self.path, can_write_within(path, 1.0)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_alert_notifications_are_sent_with_no_transaction_open(app):
    receiver = BlockingReceiver(db_path(app))
    app.config.update(ALERT_WEBHOOK_URLS=[receiver.url + "/hook"], ALERTMANAGER_URL=receiver.url)
    try:
        with app.app_context():
            make = Factory()
            make.book("Dune", copies=1, available=0)  # availability 0 %: LowBookAvailability fires
            result = evaluate_alerts.evaluate(app, utcnow())
            assert [(t["alert"], t["to"]) for t in result["transitions"]] == [
                ("LowBookAvailability{}", "pending"), ("LowBookAvailability{}", "firing")]
            assert result["alertmanager"] is True
            history = db.session.execute(select(AlertHistory.to_state, AlertHistory.notification)
                                         .order_by(AlertHistory.id)).all()
    finally:
        receiver.close()
    assert receiver.seen == [("/hook", True), ("/api/v2/alerts", True)]
    assert history == [("pending", "none"), ("firing", "sent")]


def test_idle_embedded_scheduler_leaves_the_database_free(app):
    scheduler = EmbeddedScheduler(app, db_path(app) + ".lock")
    scheduler.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with app.app_context():
                runs = db.session.scalar(select(db.func.count()).select_from(JobRun)
                                         .where(JobRun.job == "collect", JobRun.status == "succeeded"))
            if runs >= 2:  # it has run, slept, and run again
                break
            time.sleep(0.1)
        assert runs >= 2
        # Over two more periods: the jobs take milliseconds, so 1 s is always enough unless
        # the scheduler kept a transaction open while sleeping.
        checks = []
        until = time.monotonic() + 2 * app.config["MONITOR_COLLECT_INTERVAL_SECONDS"]
        while time.monotonic() < until:
            checks.append(can_write_within(db_path(app), 1.0))
            time.sleep(0.1)
        assert checks and all(checks), checks.count(False)
    finally:
        scheduler.stop()
        scheduler.join(10)
    assert not scheduler.is_alive()
