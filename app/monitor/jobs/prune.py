"""`prune`: retention for snapshots, search log, alert history and job runs."""
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete

from ...extensions import db
from ...library.models import SearchLog
from ...timeutil import utcnow
from ..models import AlertHistory, JobRun, JobRunStatus, MetricSnapshot

TARGETS = (
    ("snapshots", MetricSnapshot, MetricSnapshot.taken_at, "RETENTION_SNAPSHOT_DAYS"),
    ("search_log", SearchLog, SearchLog.created_at, "RETENTION_SEARCH_LOG_DAYS"),
    ("alert_history", AlertHistory, AlertHistory.at, "RETENTION_ALERT_HISTORY_DAYS"),
    ("job_runs", JobRun, JobRun.started_at, "RETENTION_JOB_RUNS_DAYS"),
)


def prune_before(settings, now: datetime) -> dict:
    """Delete rows older than each table's retention; returns rows deleted per table."""
    deleted = {}
    for name, model, column, setting in TARGETS:
        statement = delete(model).where(column < now - timedelta(days=int(settings[setting])))
        if model is JobRun:  # a run still in progress keeps its claim
            statement = statement.where(JobRun.status != JobRunStatus.RUNNING)
        deleted[name] = db.session.execute(statement).rowcount
    db.session.commit()
    return deleted


def prune(period_start: datetime) -> dict:
    """Scheduled daily: apply the configured retention."""
    return prune_before(current_app.config, utcnow())
