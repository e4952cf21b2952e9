"""Alert lifecycle: inactive → pending → firing → resolved, with `for` and keep-firing.

Pure state transitions over stored Alert rows; the clock is a parameter. Like
Prometheus: a condition must hold for the rule's `for` before the alert fires;
a firing alert whose condition clears stays firing for `keep_firing_for`
(against flapping) and then resolves; a pending alert whose condition clears
goes back to inactive without notifying anyone.
"""
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from ..models import Alert, AlertHistory, AlertState
from .rules import RULES, Sample


@dataclass
class Transition:
    alert: Alert
    from_state: str
    to_state: str          # pending, firing, resolved, inactive
    history: AlertHistory


def durations(rule, settings) -> tuple[int, int]:
    """(for, keep_firing_for) in seconds; ALERT_FOR_SECONDS / ALERT_KEEP_FIRING_SECONDS override all rules."""
    for_s = settings.get("ALERT_FOR_SECONDS")
    keep_s = settings.get("ALERT_KEEP_FIRING_SECONDS")
    return (rule.for_seconds if for_s is None else for_s,
            rule.keep_firing_seconds if keep_s is None else keep_s)


def _change(session, alert: Alert, to_state: str, now: datetime, value) -> Transition:
    history = AlertHistory(fingerprint=alert.fingerprint, rule=alert.rule, severity=alert.severity,
                           from_state=alert.state, to_state=to_state, at=now, value=value)
    session.add(history)
    transition = Transition(alert, alert.state, to_state, history)
    alert.state = AlertState.INACTIVE if to_state == AlertState.RESOLVED else to_state
    return transition


def step(session, alert: Alert, sample: Sample | None, now: datetime, settings) -> list[Transition]:
    """Advance one alert to `now` given its sample (None = no longer produced: inactive)."""
    rule = RULES.get(alert.rule) if sample is None else sample.rule
    for_s, keep_s = durations(rule, settings) if rule else (0, 0)
    active = bool(sample and sample.active)
    value = sample.value if sample else None
    alert.evaluated_at = now
    if active:  # a resolved alert keeps the value and text it fired with, as Alertmanager shows it
        alert.value, alert.threshold, alert.summary = sample.value, sample.threshold, sample.summary
    changes = []
    if active:
        alert.last_true_at = now
        if alert.state == AlertState.INACTIVE:
            alert.pending_since = now
            alert.resolved_at = None
            if for_s > 0:
                return [_change(session, alert, AlertState.PENDING, now, value)]
            changes.append(_change(session, alert, AlertState.PENDING, now, value))
        if alert.state == AlertState.PENDING and now - alert.pending_since >= timedelta(seconds=for_s):
            alert.firing_since = now
            changes.append(_change(session, alert, AlertState.FIRING, now, value))
        return changes
    if alert.state == AlertState.PENDING:
        alert.pending_since = None
        return [_change(session, alert, AlertState.INACTIVE, now, value)]
    if alert.state == AlertState.FIRING:
        if alert.last_true_at and now - alert.last_true_at < timedelta(seconds=keep_s):
            return []
        alert.resolved_at = now
        return [_change(session, alert, AlertState.RESOLVED, now, value)]
    return []


def evaluate(session, samples: list[Sample], now: datetime, settings) -> list[Transition]:
    """Apply this evaluation's samples to the stored alerts; returns the transitions made.

    The caller commits (notify.dispatch commits before posting, then records the outcome).
    """
    stored = {alert.fingerprint: alert for alert in session.execute(select(Alert)).scalars()}
    seen = set()
    transitions = []
    for sample in samples:
        seen.add(sample.fingerprint)
        alert = stored.get(sample.fingerprint)
        if alert is None:
            if not sample.active:
                continue  # nothing to remember about a condition that never held
            alert = Alert(fingerprint=sample.fingerprint, rule=sample.rule.name, severity=sample.rule.severity,
                          labels=json.dumps(sample.labels, sort_keys=True), state=AlertState.INACTIVE)
            session.add(alert)
        transitions.extend(step(session, alert, sample, now, settings))
    for fingerprint, alert in stored.items():
        if fingerprint not in seen and alert.state != AlertState.INACTIVE:
            transitions.extend(step(session, alert, None, now, settings))
    session.flush()
    return transitions
