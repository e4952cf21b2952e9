"""Alerting: rules, lifecycle, silences, notifications."""
from sqlalchemy import select

from ...timeutil import isoformat_z
from ..models import Alert, AlertState


def firing_critical(session) -> list[dict]:
    """Firing alerts of severity critical, for the system endpoint's `critical_alerts`."""
    alerts = session.execute(
        select(Alert).where(Alert.state == AlertState.FIRING, Alert.severity == "critical")
        .order_by(Alert.firing_since, Alert.id)).scalars()
    return [{"rule": a.rule, "severity": a.severity, "fingerprint": a.fingerprint, "value": a.value,
             "threshold": a.threshold, "message": a.summary, "firing_since": isoformat_z(a.firing_since)}
            for a in alerts]
