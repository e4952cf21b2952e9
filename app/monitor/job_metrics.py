"""Job, queue and alert metrics, derived from the database and Redis at scrape time.

Observable instruments: any web worker answers a scrape with the same values,
because they are read from the shared JobRun/Alert tables and RQ's Redis keys,
not counted in process memory. Runs counted by result:
- succeeded: runs that succeeded;
- failed: failed attempts - every attempt of a run still failed, and the
  attempts before the last of a run still running or that succeeded on retry.
The counts drop when `prune` deletes old runs (Prometheus treats that as a
counter reset). The enqueue-error counter is per process: enqueue errors
happen in the process that tried.
"""
from opentelemetry.metrics import Observation
from sqlalchemy import case, func, select

from .models import Alert, AlertState, JobRun, JobRunStatus
from .scheduling.queues import STATES, queue_state


def job_run_counts(session) -> list[tuple[int, dict]]:
    """[(n, {job, result})] for result in succeeded, failed."""
    succeeded = JobRun.status == JobRunStatus.SUCCEEDED
    failed_attempts = case((succeeded, JobRun.attempts - 1),
                           (JobRun.status == JobRunStatus.RUNNING, JobRun.attempts - 1),
                           else_=JobRun.attempts)
    rows = session.execute(
        select(JobRun.job, func.sum(case((succeeded, 1), else_=0)), func.sum(failed_attempts))
        .group_by(JobRun.job)).all()
    out = []
    for job, ok, failed in rows:
        out.append((int(ok or 0), {"job": job, "result": "succeeded"}))
        out.append((int(failed or 0), {"job": job, "result": "failed"}))
    return out


def last_durations(session) -> list[tuple[float, dict]]:
    """[(seconds, {job})]: duration of each job's latest successful run."""
    latest = (select(JobRun.job, func.max(JobRun.finished_at).label("at"))
              .where(JobRun.status == JobRunStatus.SUCCEEDED).group_by(JobRun.job).subquery())
    rows = session.execute(select(JobRun.job, JobRun.duration_seconds).join(
        latest, (JobRun.job == latest.c.job) & (JobRun.finished_at == latest.c.at))).all()
    return [(float(seconds), {"job": job}) for job, seconds in rows if seconds is not None]


def last_success_timestamps(session) -> list[tuple[float, dict]]:
    """[(unix seconds, {job})] of each job's latest success."""
    rows = session.execute(select(JobRun.job, func.max(JobRun.finished_at))
                           .where(JobRun.status == JobRunStatus.SUCCEEDED).group_by(JobRun.job)).all()
    return [(at.timestamp(), {"job": job}) for job, at in rows if at is not None]


def alerts_firing(session) -> list[tuple[int, dict]]:
    """[(n, {rule, severity})] of alerts firing now (0 for rules seen but not firing)."""
    rows = session.execute(
        select(Alert.rule, Alert.severity, func.sum(case((Alert.state == AlertState.FIRING, 1), else_=0)))
        .group_by(Alert.rule, Alert.severity)).all()
    return [(int(n or 0), {"rule": rule, "severity": severity}) for rule, severity, n in rows]


def queue_jobs(app) -> list[tuple[int, dict]]:
    """[(n, {queue, state})] from RQ's registries; nothing without (or with an unreachable) Redis."""
    state = queue_state(app)
    if not state["available"]:
        return []
    return [(state["jobs"][s], {"queue": state["queue"], "state": s}) for s in STATES]


def register(meter, app) -> None:
    """Create the job/queue/alert observable instruments on `meter` for `app`."""
    from ..telemetry.business import db_callback as _callback

    meter.create_observable_counter(
        "library_job_runs_total", callbacks=[_callback(app, job_run_counts)],
        description="Scheduled job runs by result (succeeded runs; failed attempts).")
    meter.create_observable_gauge(
        "library_job_duration_seconds", callbacks=[_callback(app, last_durations)], unit="s",
        description="Duration of each job's latest successful run.")
    meter.create_observable_gauge(
        "library_job_last_success_timestamp_seconds", callbacks=[_callback(app, last_success_timestamps)],
        unit="s", description="Unix time of each job's latest successful run.")
    meter.create_observable_gauge(
        "library_queue_jobs", callbacks=[_callback(app, lambda session: queue_jobs(app))],
        description="Jobs in the RQ queue and its registries, by state.")
    meter.create_observable_gauge(
        "library_alerts_firing", callbacks=[_callback(app, alerts_firing)],
        description="Alerts firing now, by rule and severity.")
    meter.create_observable_counter(
        "library_job_enqueue_errors_total",
        callbacks=[lambda options: [Observation(app.extensions.get("monitor_enqueue_errors", 0))]],
        description="Failed attempts to enqueue a job on Redis, in this process.")


def init_app(app) -> None:
    """Register the instruments on the app's meter (a no-op meter when telemetry is off)."""
    from ..telemetry import meter_for

    register(meter_for(app), app)
