"""Run one scheduled job for one period, inside an app context, recorded as a JobRun row.

The INSERT of the (job, period_key) row is the claim: a second worker, a second
scheduler's duplicate, or a late retry of a finished period finds the row and
skips. A period whose run failed, or whose worker died (still `running` past
its deadline), can be claimed again - that is how retries and abandoned runs
are picked up without ever running a period twice at the same time.
"""
import json
import logging
import os
import socket
import time
import traceback
from datetime import datetime, timedelta, timezone

from flask import current_app, has_app_context
from sqlalchemy import and_, insert, or_, select, true, update
from sqlalchemy.exc import IntegrityError
from werkzeug.utils import import_string

from ...extensions import db
from ...timeutil import utcnow
from .. import schedule as sched
from ..models import JobRun, JobRunStatus

log = logging.getLogger(__name__)

# A run still `running` this long after its timeout has lost its worker.
ABANDON_GRACE = timedelta(seconds=30)
_worker_app = None


def set_worker_app(app) -> None:
    """Bind the app that jobs of this worker process run in (AppWorker does this once)."""
    global _worker_app
    _worker_app = app


def _app():
    global _worker_app
    if _worker_app is None:
        from ... import create_app

        _worker_app = create_app()
    return _worker_app


def _worker_name() -> str:
    return os.environ.get("RQ_WORKER_ID") or f"{socket.gethostname()}:{os.getpid()}"


def claim(name: str, start: datetime, timeout: int, *, now: datetime, rq_job_id=None,
          force=False) -> int | None:
    """Claim (job, period) for this process; returns the JobRun id, or None when taken."""
    key = sched.period_key(start)
    values = dict(status=JobRunStatus.RUNNING, started_at=now, rq_job_id=rq_job_id, worker=_worker_name(),
                  deadline_at=now + timedelta(seconds=timeout) + ABANDON_GRACE, finished_at=None,
                  duration_seconds=None)
    try:
        run_id = db.session.execute(
            insert(JobRun).values(job=name, period_key=key, period_start=start, attempts=1, **values)
            .returning(JobRun.id)
        ).scalar_one()
        db.session.commit()
        return run_id
    except IntegrityError:
        db.session.rollback()
    reclaimable = true() if force else or_(
        JobRun.status == JobRunStatus.FAILED,
        and_(JobRun.status == JobRunStatus.RUNNING, JobRun.deadline_at < now),
    )
    result = db.session.execute(
        update(JobRun).where(JobRun.job == name, JobRun.period_key == key, reclaimable)
        .values(attempts=JobRun.attempts + 1, **values)
    )
    db.session.commit()
    if result.rowcount != 1:
        return None
    return db.session.scalar(select(JobRun.id).where(JobRun.job == name, JobRun.period_key == key))


def _finish(run_id: int, status: str, started: float, *, error=None, result=None) -> None:
    values = dict(status=status, finished_at=utcnow(), duration_seconds=round(time.perf_counter() - started, 6))
    if error is not None:
        values["error"] = error
    if result is not None:
        values["result"] = json.dumps(result, default=str, sort_keys=True)
    db.session.execute(update(JobRun).where(JobRun.id == run_id).values(**values))
    db.session.commit()


def execute(name: str, start: datetime, *, rq_job_id=None, force=False, now=None) -> dict:
    """Run scheduled job `name` for the period starting at `start`, once.

    Returns {"job", "period_key", "status": succeeded|skipped, "result"}; a
    failing job is recorded as failed and its exception re-raised (so RQ retries).
    """
    job = sched.by_name(current_app.config, name)
    key = sched.period_key(start)
    run_id = claim(name, start, job.timeout, now=now or utcnow(), rq_job_id=rq_job_id, force=force)
    if run_id is None:
        log.info("job %s period %s already claimed; skipping", name, key)
        return {"job": name, "period_key": key, "status": "skipped", "result": None}
    started = time.perf_counter()
    try:
        result = import_string(job.func)(start)
    except BaseException as exc:  # timeouts derive from Exception, SystemExit/KeyboardInterrupt too
        db.session.rollback()
        _finish(run_id, JobRunStatus.FAILED, started,
                error="".join(traceback.format_exception_only(type(exc), exc)).strip()[:2000])
        log.exception("job %s period %s failed", name, key)
        raise
    _finish(run_id, JobRunStatus.SUCCEEDED, started, result=result)
    return {"job": name, "period_key": key, "status": "succeeded", "result": result}


def run(name: str, period_start: float, force: bool = False) -> dict:
    """RQ entry point: run `name` for the period starting at `period_start` (Unix seconds).

    Runs in the current app context (AppWorker pushes one), else in an app
    created once for this process. `force` re-runs a period already done.
    """
    from rq import get_current_job

    start = datetime.fromtimestamp(period_start, timezone.utc)
    rq_job = get_current_job()
    rq_job_id = rq_job.id if rq_job else None
    if has_app_context():
        return execute(name, start, rq_job_id=rq_job_id, force=force)
    with _app().app_context():
        return execute(name, start, rq_job_id=rq_job_id, force=force)


def mark_failed(rq_job_id: str, error: str) -> int:
    """Mark the running JobRun of an RQ job failed (its worker died); returns rows changed."""
    def _mark():
        result = db.session.execute(
            update(JobRun).where(JobRun.rq_job_id == rq_job_id, JobRun.status == JobRunStatus.RUNNING)
            .values(status=JobRunStatus.FAILED, finished_at=utcnow(), error=error[:2000])
        )
        db.session.commit()
        return result.rowcount

    if has_app_context():
        return _mark()
    with _app().app_context():
        return _mark()


def on_rq_failure(job, connection, exc_type, exc_value, tb) -> None:
    """RQ failure callback; also called for abandoned jobs (worker killed) at registry cleanup."""
    mark_failed(job.id, f"{getattr(exc_type, '__name__', exc_type)}: {exc_value}")


def sweep_abandoned(now: datetime) -> int:
    """Mark runs still `running` past their deadline as failed; returns how many."""
    result = db.session.execute(
        update(JobRun).where(JobRun.status == JobRunStatus.RUNNING, JobRun.deadline_at < now)
        .values(status=JobRunStatus.FAILED, finished_at=now,
                error="abandoned: no result before the deadline (worker died?)")
    )
    db.session.commit()
    return result.rowcount
