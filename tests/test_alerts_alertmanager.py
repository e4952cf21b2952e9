"""Push to a real Alertmanager (Debian's prometheus-alertmanager) through its v2 API."""
import json
import socket
import subprocess
import time
import urllib.request
import pytest

from app.extensions import db
from app.monitor.alerts import lifecycle, notify
from app.monitor.alerts.rules import RULES, Sample
from app.timeutil import utcnow
from tests.conftest import required_binary



def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def alertmanager(tmp_path):
    binary = required_binary("prometheus-alertmanager", "prometheus-alertmanager")
    port, cluster_port = free_port(), free_port()
    config = tmp_path / "am.yml"
    config.write_text("route:\n  receiver: none\nreceivers:\n  - name: none\n")
    proc = subprocess.Popen([binary, f"--config.file={config}", f"--storage.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}",
                             f"--cluster.listen-address=127.0.0.1:{cluster_port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{url}/-/ready", timeout=1)
            break
        except OSError:
            time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def am_alerts(url):
    with urllib.request.urlopen(f"{url}/api/v2/alerts", timeout=5) as response:
        return json.loads(response.read())


def test_firing_then_resolved_alert_reaches_alertmanager(app, alertmanager):
    settings = {"ALERT_FOR_SECONDS": 0, "ALERT_KEEP_FIRING_SECONDS": 0, "ALERTMANAGER_URL": alertmanager,
                "ALERT_NOTIFY_RETRIES": 1, "ALERT_NOTIFY_TIMEOUT_SECONDS": 5,
                "ALERT_EXTERNAL_URL": "http://library.test"}
    rule = RULES["LowBookAvailability"]
    now = utcnow()
    with app.app_context():
        transitions = lifecycle.evaluate(db.session, [Sample(rule, 12.5, 20.0, True)], now, settings)
        assert notify.push_alertmanager(db.session, transitions, settings) is True
        db.session.commit()
        received = am_alerts(alertmanager)
        assert [(a["labels"], a["annotations"]["summary"], a["status"]["state"]) for a in received] == [
            ({"alertname": "LowBookAvailability", "severity": "critical", "service": "library-service"},
             "Book availability 12.50% is at or below 20.0%", "active")]
        later = utcnow()  # resolved now: Alertmanager ends it at once
        transitions = lifecycle.evaluate(db.session, [Sample(rule, 50.0, 20.0, False)], later, settings)
        assert [t.to_state for t in transitions] == ["resolved"]
        assert notify.push_alertmanager(db.session, transitions, settings) is True
        db.session.commit()
    # A resolved alert (endsAt in the past) is no longer active in Alertmanager.
    assert [a for a in am_alerts(alertmanager) if a["status"]["state"] == "active"] == []
