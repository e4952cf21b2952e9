"""Notifications: Alertmanager webhook JSON to ALERT_WEBHOOK_URLS, optional push to Alertmanager v2.

The webhook body is the one Alertmanager itself sends to webhook receivers
(version "4"), so any receiver written for Alertmanager accepts it. Delivery is
retried with exponential backoff; the outcome is written on the history row.
"""
import hashlib
import json
import logging
import time
import urllib.error
import urllib.request

from sqlalchemy import select

from ...timeutil import isoformat_z
from ..models import Alert, AlertState
from . import silences
from .lifecycle import Transition

log = logging.getLogger(__name__)

ZERO_TIME = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt for an alert still firing
RECEIVER = "library-service"


def _labels(alert) -> dict:
    return {"alertname": alert.rule, "severity": alert.severity, "service": "library-service",
            **json.loads(alert.labels or "{}")}


def alert_entry(alert, status: str, external_url: str) -> dict:
    """One element of `alerts[]`, as Alertmanager formats it."""
    annotations = {"summary": alert.summary or alert.rule}
    if alert.value is not None:
        annotations["value"] = f"{alert.value:g}"
    if alert.threshold is not None:
        annotations["threshold"] = f"{alert.threshold:g}"
    labels = _labels(alert)
    return {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": isoformat_z(alert.firing_since),
        "endsAt": isoformat_z(alert.resolved_at) if status == "resolved" else ZERO_TIME,
        "generatorURL": f"{external_url.rstrip('/')}/api/analytics/monitor/alerts/",
        "fingerprint": hashlib.sha256(alert.fingerprint.encode()).hexdigest()[:16],
    }


def webhook_payload(alert, status: str, external_url: str) -> dict:
    """The Alertmanager webhook body (version 4) for one alert's group."""
    entry = alert_entry(alert, status, external_url)
    group_labels = {"alertname": alert.rule}
    return {
        "version": "4",
        "groupKey": '{}:{alertname="%s"}' % alert.rule,
        "truncatedAlerts": 0,
        "status": status,
        "receiver": RECEIVER,
        "groupLabels": group_labels,
        "commonLabels": entry["labels"],
        "commonAnnotations": entry["annotations"],
        "externalURL": external_url,
        "alerts": [entry],
    }


def post_json(url: str, body, *, retries: int, timeout: float, sleep=time.sleep) -> bool:
    """POST `body` as JSON; retry on network errors, 429 and 5xx with 0.5 s, 1 s, 2 s… backoff."""
    data = json.dumps(body).encode()
    for attempt in range(retries + 1):
        request = urllib.request.Request(url, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return True
                retryable = False
        except urllib.error.HTTPError as exc:
            retryable = exc.code == 429 or exc.code >= 500
            log.warning("notification to %s answered %s (attempt %d)", url, exc.code, attempt + 1)
        except (urllib.error.URLError, OSError) as exc:
            retryable = True
            log.warning("notification to %s failed: %s (attempt %d)", url, exc, attempt + 1)
        if not retryable or attempt == retries:
            return False
        sleep(0.5 * 2 ** attempt)
    return False


def dispatch(session, transitions: list[Transition], now, settings, sleep=time.sleep) -> None:
    """Notify firing and resolved transitions (unless silenced); record the outcome on history.

    Commits the transitions (notification `sending`) before the first POST and
    posts with no transaction open: on SQLite a transaction holds the write lock,
    and a receiver may take ALERT_NOTIFY_TIMEOUT_SECONDS times every retry. The
    outcomes (`sent`, `failed`) are left for the caller to commit.
    """
    urls = settings["ALERT_WEBHOOK_URLS"]
    external = settings["ALERT_EXTERNAL_URL"]
    due = []
    for transition in transitions:
        if transition.to_state not in (AlertState.FIRING, AlertState.RESOLVED):
            continue
        alert = transition.alert
        if silences.silenced(session, alert.rule, alert.severity, now):
            transition.history.notification = "silenced"
            continue
        if not urls:
            continue
        transition.history.notification = "sending"
        due.append((transition.history, webhook_payload(alert, transition.to_state, external)))
    if not due:
        return
    session.commit()
    for history, payload in due:
        delivered = [post_json(url, payload, retries=settings["ALERT_NOTIFY_RETRIES"],
                               timeout=settings["ALERT_NOTIFY_TIMEOUT_SECONDS"], sleep=sleep) for url in urls]
        history.notification = "sent" if all(delivered) else "failed"


def push_alertmanager(session, transitions: list[Transition], settings, sleep=time.sleep) -> bool | None:
    """POST firing alerts and the ones resolved now to ALERTMANAGER_URL/api/v2/alerts.

    Alertmanager resolves an alert it stops hearing about, so every firing alert
    is re-sent on each evaluation, as Prometheus does. None when not configured.
    Like dispatch, commits before posting, so no transaction is open meanwhile.
    """
    url = settings.get("ALERTMANAGER_URL")
    if not url:
        return None
    external = settings["ALERT_EXTERNAL_URL"]
    firing = session.execute(select(Alert).where(Alert.state == AlertState.FIRING)).scalars()
    body = [_am_alert(alert_entry(alert, "firing", external)) for alert in firing]
    body += [_am_alert(alert_entry(t.alert, "resolved", external))
             for t in transitions if t.to_state == AlertState.RESOLVED]
    session.commit()
    if not body:
        return True
    return post_json(f"{url.rstrip('/')}/api/v2/alerts", body, retries=settings["ALERT_NOTIFY_RETRIES"],
                     timeout=settings["ALERT_NOTIFY_TIMEOUT_SECONDS"], sleep=sleep)


def _am_alert(entry: dict) -> dict:
    """The v2 API's postableAlert: labels, annotations, startsAt, endsAt (omitted while firing)."""
    alert = {"labels": entry["labels"], "annotations": entry["annotations"],
             "startsAt": entry["startsAt"], "generatorURL": entry["generatorURL"]}
    if entry["endsAt"] != ZERO_TIME:
        alert["endsAt"] = entry["endsAt"]
    return alert
