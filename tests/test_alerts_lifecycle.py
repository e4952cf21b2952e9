"""Alert lifecycle with an injected clock: exact transitions, history and notifications."""
import json
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from app.extensions import db
from app.monitor.alerts import firing_critical, lifecycle, notify
from app.monitor.alerts.rules import RULES, Sample
from app.monitor.models import Alert, AlertHistory

T0 = datetime(2026, 1, 5, 12, 0, 0, tzinfo=timezone.utc)
SETTINGS = {"ALERT_FOR_SECONDS": 60, "ALERT_KEEP_FIRING_SECONDS": 30}


def error_rate(value, threshold=5.0):
    return Sample(RULES["HighErrorRate"], value, threshold, value >= threshold)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


def step(value, seconds, settings=SETTINGS):
    transitions = lifecycle.evaluate(db.session, [error_rate(value)], at(seconds), settings)
    db.session.commit()
    return [(t.from_state, t.to_state) for t in transitions]


def history():
    rows = db.session.execute(select(AlertHistory).order_by(AlertHistory.id)).scalars()
    return [(h.from_state, h.to_state, h.at, h.value) for h in rows]


def test_pending_for_then_firing_keep_firing_then_resolved(app):
    with app.app_context():
        assert step(1.0, 0) == []                       # never active: nothing stored
        assert db.session.scalar(select(db.func.count()).select_from(Alert)) == 0
        assert step(7.5, 10) == [("inactive", "pending")]
        assert step(8.0, 40) == []                      # 30 s < for=60 s
        assert step(9.0, 70) == [("pending", "firing")]  # 60 s after pending
        assert firing_critical(db.session) == [{
            "rule": "HighErrorRate", "severity": "critical", "fingerprint": "HighErrorRate{}", "value": 9.0,
            "threshold": 5.0, "message": "5xx error rate 9.00% is at or above 5.0% (last 5 minutes)",
            "firing_since": "2026-01-05T12:01:10Z"}]
        assert step(1.0, 80) == []                      # cleared 10 s after last true: keep firing (30 s)
        assert step(6.0, 90) == []                      # flaps back: still the same firing alert
        assert step(1.0, 119) == []                     # 29 s after last true
        assert step(1.0, 120) == [("firing", "resolved")]
        assert firing_critical(db.session) == []
        alert = db.session.execute(select(Alert)).scalar_one()
        assert (alert.state, alert.resolved_at, alert.firing_since) == ("inactive", at(120), at(70))
        assert history() == [("inactive", "pending", at(10), 7.5), ("pending", "firing", at(70), 9.0),
                             ("firing", "resolved", at(120), 1.0)]


def test_pending_that_clears_goes_back_to_inactive(app):
    with app.app_context():
        assert step(6.0, 0) == [("inactive", "pending")]
        assert step(2.0, 30) == [("pending", "inactive")]
        assert step(6.0, 50) == [("inactive", "pending")]  # `for` restarts from the new pending
        assert step(6.0, 100) == []
        assert step(6.0, 110) == [("pending", "firing")]


def test_for_zero_fires_at_once_and_rule_defaults_apply_without_override(app):
    with app.app_context():
        assert step(6.0, 0, {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0}) == [
            ("inactive", "pending"), ("pending", "firing")]
        assert step(1.0, 1, {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0}) == [
            ("firing", "resolved")]
        # HighErrorRate's own `for` is 300 s
        assert lifecycle.durations(RULES["HighErrorRate"], {"ALERT_FOR_SECONDS": None,
                                                            "ALERT_KEEP_FIRING_SECONDS": None}) == (300, 300)


class Receiver:
    """A local HTTP webhook receiver; answers the first `fail_first` posts with 503."""

    def __init__(self, fail_first=0):
        self.bodies, self.fail_first, self.calls = [], fail_first, 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                if receiver.calls <= receiver.fail_first:
                    self.send_response(503)
                else:
                    receiver.bodies.append((self.path, json.loads(body)))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver(fail_first=2)
    yield r
    r.close()


def notify_settings(receiver, **extra):
    return {**SETTINGS, "ALERT_WEBHOOK_URLS": [receiver.url + "/hook"], "ALERT_NOTIFY_RETRIES": 3,
            "ALERT_NOTIFY_TIMEOUT_SECONDS": 2, "ALERT_EXTERNAL_URL": "http://library.test",
            "ALERTMANAGER_URL": None, **extra}


def run(settings, value, seconds):
    transitions = lifecycle.evaluate(db.session, [error_rate(value)], at(seconds), settings)
    notify.dispatch(db.session, transitions, at(seconds), settings, sleep=lambda s: None)
    db.session.commit()


def test_webhook_gets_alertmanager_json_on_firing_and_resolved_with_retries(app, receiver):
    settings = notify_settings(receiver)
    with app.app_context():
        run(settings, 7.5, 0)
        assert receiver.bodies == []  # pending notifies nobody
        run(settings, 8.0, 60)
        run(settings, 1.0, 100)
        alert_labels = {"alertname": "HighErrorRate", "severity": "critical", "service": "library-service"}
        firing_entry = {
            "status": "firing", "labels": alert_labels,
            "annotations": {"summary": "5xx error rate 8.00% is at or above 5.0% (last 5 minutes)",
                            "value": "8", "threshold": "5"},
            "startsAt": "2026-01-05T12:01:00Z", "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://library.test/api/analytics/monitor/alerts/",
            "fingerprint": notify.hashlib.sha256(b"HighErrorRate{}").hexdigest()[:16],
        }
        common = {"version": "4", "groupKey": '{}:{alertname="HighErrorRate"}', "truncatedAlerts": 0,
                  "receiver": "library-service", "groupLabels": {"alertname": "HighErrorRate"},
                  "commonLabels": alert_labels, "externalURL": "http://library.test"}
        resolved_entry = {**firing_entry, "status": "resolved", "endsAt": "2026-01-05T12:01:40Z"}
        assert receiver.bodies == [
            ("/hook", {**common, "status": "firing", "commonAnnotations": firing_entry["annotations"],
                       "alerts": [firing_entry]}),
            ("/hook", {**common, "status": "resolved", "commonAnnotations": resolved_entry["annotations"],
                       "alerts": [resolved_entry]}),
        ]
        assert receiver.calls == 4  # two 503s retried, then the two deliveries
        assert [(h.to_state, h.notification) for h in db.session.execute(
            select(AlertHistory).order_by(AlertHistory.id)).scalars()] == [
            ("pending", "none"), ("firing", "sent"), ("resolved", "sent")]


def test_undeliverable_webhook_is_recorded_as_failed(app):
    dead = Receiver(fail_first=100)
    try:
        settings = notify_settings(dead, ALERT_NOTIFY_RETRIES=2, ALERT_FOR_SECONDS=0)
        with app.app_context():
            run(settings, 9.0, 0)
            assert dead.calls == 3  # first try + 2 retries
            assert [h.notification for h in db.session.execute(
                select(AlertHistory).order_by(AlertHistory.id)).scalars()] == ["none", "failed"]
    finally:
        dead.close()


def test_silenced_alert_is_not_notified_but_history_says_so(app, receiver):
    from app.monitor.alerts import silences

    settings = notify_settings(receiver, ALERT_FOR_SECONDS=0)
    with app.app_context():
        silences.create(db.session, rule="HighErrorRate", severity=None, starts_at=at(-10), ends_at=at(30),
                        created_by="ops", comment="deploy", now=at(-10))
        db.session.commit()
        run(settings, 9.0, 0)
        assert receiver.bodies == []
        run(settings, 1.0, 40)  # the silence ended at +30 s: the resolution is sent
        assert [body["status"] for _, body in receiver.bodies] == ["resolved"]
        assert [h.notification for h in db.session.execute(
            select(AlertHistory).order_by(AlertHistory.id)).scalars()] == ["none", "silenced", "sent"]


def test_system_endpoint_lists_firing_critical_alerts(app, client):
    from tests.factories import Factory, login

    with app.app_context():
        Factory().admin()
        step(9.0, 0, {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0})
    login(client, "admin")
    body = client.get("/api/analytics/monitor/system/", headers={"Cache-Control": "no-cache"}).get_json()
    assert [a for a in body["critical_alerts"] if a.get("fingerprint")] == [{
        "rule": "HighErrorRate", "severity": "critical", "fingerprint": "HighErrorRate{}", "value": 9.0,
        "threshold": 5.0, "message": "5xx error rate 9.00% is at or above 5.0% (last 5 minutes)",
        "firing_since": "2026-01-05T12:00:00Z"}]
