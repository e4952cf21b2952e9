"""`evaluate_alerts`: measure the rules, advance the lifecycle, notify, store history."""
from datetime import datetime

from flask import current_app

from ...extensions import db
from ...timeutil import utcnow
from ..alerts import lifecycle, notify, request_window, rules
from ..scheduling.queues import queue_state


def samples(app, now: datetime) -> list:
    """Every rule's samples now."""
    settings = app.config
    # Redis first, before the database reads open a transaction (on SQLite it holds the write lock).
    window = request_window.read(app, now.timestamp()) if "monitor_request_window" in app.extensions else {}
    queue = queue_state(app)
    result = rules.request_samples(window, settings) if window else []
    result += rules.database_samples(db.session, now, settings)
    result += rules.queue_samples(queue, settings)
    return result


def evaluate(app, now: datetime | None = None) -> dict:
    """One evaluation at `now`: transitions made and notifications sent; commits.

    The transitions are committed before any notification is posted (see notify.dispatch).
    """
    now = now or utcnow()
    transitions = lifecycle.evaluate(db.session, samples(app, now), now, app.config)
    notify.dispatch(db.session, transitions, now, app.config)
    pushed = notify.push_alertmanager(db.session, transitions, app.config)
    db.session.commit()
    return {
        "transitions": [{"alert": t.alert.fingerprint, "from": t.from_state, "to": t.to_state,
                         "notification": t.history.notification} for t in transitions],
        "alertmanager": pushed,
    }


def evaluate_alerts(period_start: datetime) -> dict:
    """Scheduled every collection interval."""
    return evaluate(current_app._get_current_object())
