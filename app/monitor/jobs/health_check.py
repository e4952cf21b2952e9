"""`health_check`: database, Redis, queue depths, worker liveness; sweeps abandoned runs."""
from datetime import datetime

from flask import current_app
from sqlalchemy import text

from ...extensions import db
from ...timeutil import utcnow
from ..scheduling.connection import redis_for
from ..scheduling.queues import queue_state
from .runner import sweep_abandoned


def check(app) -> dict:
    """{database, redis, queue, workers_alive, abandoned_runs_marked, overall} measured now."""
    now = utcnow()
    # Redis first, before the database probe opens a transaction (on SQLite it holds the write lock).
    redis = "not configured"
    if redis_for(app) is not None:
        try:
            redis_for(app).ping()
            redis = "ok"
        except Exception as exc:
            redis = f"error: {type(exc).__name__}"
    queue = queue_state(app)
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:
        database = f"error: {type(exc).__name__}"
    db.session.rollback()  # the sweep below starts (and commits) a transaction of its own
    abandoned = sweep_abandoned(now) if database == "ok" else 0
    healthy = database == "ok" and redis in ("ok", "not configured")
    if redis == "ok" and not queue["workers"]:
        healthy = False
    return {"database": database, "redis": redis, "queue": queue["jobs"], "workers_alive": len(queue["workers"]),
            "abandoned_runs_marked": abandoned, "overall": "healthy" if healthy else "unhealthy"}


def health_check(period_start: datetime) -> dict:
    """Scheduled every collection interval; the result is kept on the JobRun row."""
    return check(current_app._get_current_object())
