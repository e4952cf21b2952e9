"""Tables written by the scheduled jobs and the alert lifecycle.

Unique keys carry the "exactly once" guarantees: a snapshot per period, a
daily-stats row per day, and a job run per (job, period) - the INSERT of the
JobRun row is the claim that lets one worker, and only one, run a period.
"""
from datetime import date, datetime

from sqlalchemy import (CheckConstraint, Date, Float, Index, Integer, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db
from ..timeutil import UTCDateTime, utcnow


class MetricSnapshot(db.Model):
    """The business gauges as collected once per collection period."""

    __tablename__ = "monitor_metric_snapshots"
    __table_args__ = (Index("ix_monitor_metric_snapshots_taken_at", "taken_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    period_key: Mapped[str] = mapped_column(String(40), unique=True)
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    total_users: Mapped[int] = mapped_column(Integer)
    active_users: Mapped[int] = mapped_column(Integer)
    total_copies: Mapped[int] = mapped_column(Integer)
    available_copies: Mapped[int] = mapped_column(Integer)
    active_loans: Mapped[int] = mapped_column(Integer)
    overdue_loans: Mapped[int] = mapped_column(Integer)
    pending_verifications: Mapped[int] = mapped_column(Integer)


class DailyStats(db.Model):
    """Counts of one UTC day's events; recomputing a day replaces its row."""

    __tablename__ = "monitor_daily_stats"

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, unique=True)
    loans: Mapped[int] = mapped_column(Integer)
    returns: Mapped[int] = mapped_column(Integer)
    registrations: Mapped[int] = mapped_column(Integer)
    logins: Mapped[int] = mapped_column(Integer)
    failed_logins: Mapped[int] = mapped_column(Integer)
    searches: Mapped[int] = mapped_column(Integer)
    zero_result_searches: Mapped[int] = mapped_column(Integer)
    became_overdue: Mapped[int] = mapped_column(Integer)
    fines_cents: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class JobRunStatus:
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ALL = (RUNNING, SUCCEEDED, FAILED)


class JobRun(db.Model):
    """One scheduled job for one period; inserting it claims the period."""

    __tablename__ = "monitor_job_runs"
    __table_args__ = (
        UniqueConstraint("job", "period_key", name="uq_monitor_job_runs_job_period"),
        CheckConstraint("status IN ('running', 'succeeded', 'failed')", name="ck_monitor_job_runs_status"),
        Index("ix_monitor_job_runs_job_started", "job", "started_at"),
        Index("ix_monitor_job_runs_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(50))
    period_key: Mapped[str] = mapped_column(String(40))
    period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(20), default=JobRunStatus.RUNNING)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    rq_job_id: Mapped[str | None] = mapped_column(String(100))
    worker: Mapped[str | None] = mapped_column(String(200))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    error: Mapped[str | None] = mapped_column(Text)
    result: Mapped[str | None] = mapped_column(Text)


class AlertState:
    INACTIVE = "inactive"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"


class Alert(db.Model):
    """Current state of one alert instance (a rule, plus a job for per-job rules)."""

    __tablename__ = "monitor_alerts"
    __table_args__ = (
        CheckConstraint("state IN ('inactive', 'pending', 'firing')", name="ck_monitor_alerts_state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(120), unique=True)
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    labels: Mapped[str] = mapped_column(Text)  # JSON object
    state: Mapped[str] = mapped_column(String(20), default=AlertState.INACTIVE)
    value: Mapped[float | None] = mapped_column(Float)
    threshold: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str | None] = mapped_column(Text)
    pending_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    firing_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_true_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    evaluated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AlertHistory(db.Model):
    """Every state change of every alert, with what the notifier did about it."""

    __tablename__ = "monitor_alert_history"
    __table_args__ = (Index("ix_monitor_alert_history_at", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(120))
    rule: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str] = mapped_column(String(20))
    to_state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    value: Mapped[float | None] = mapped_column(Float)
    # none (no notification due), sending (committed before posting), sent, failed, silenced
    notification: Mapped[str] = mapped_column(String(20), default="none")


class Silence(db.Model):
    """Mutes notifications of alerts matching rule and/or severity between two instants."""

    __tablename__ = "monitor_silences"
    __table_args__ = (Index("ix_monitor_silences_ends_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str | None] = mapped_column(String(60))      # None matches any rule
    severity: Mapped[str | None] = mapped_column(String(20))  # None matches any severity
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(80))
    comment: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
