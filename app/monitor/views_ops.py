"""Admin-only operations views: alerts, scheduled jobs, silences (under /api/analytics/monitor/)."""
import json
from datetime import timedelta

from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user
from marshmallow import Schema, ValidationError, fields, validate
from sqlalchemy import select

from ..auth import admin_required
from ..errors import error_response
from ..extensions import db
from ..timeutil import isoformat_z, utcnow
from . import schedule as sched
from .access import monitor_access
from .alerts import silences
from .alerts.rules import RULES
from .models import Alert, AlertHistory, AlertState, JobRun, JobRunStatus, Silence
from .scheduling.queues import queue_state

ops_bp = Blueprint("monitor_ops", __name__, url_prefix="/api/analytics/monitor")
RECENT_RUNS = 10
RESOLVED_WINDOW = timedelta(hours=24)


def _alert(a: Alert) -> dict:
    return {"rule": a.rule, "severity": a.severity, "labels": json.loads(a.labels or "{}"),
            "fingerprint": a.fingerprint, "state": a.state if a.state != AlertState.INACTIVE else "resolved",
            "value": a.value, "threshold": a.threshold, "summary": a.summary,
            "pending_since": isoformat_z(a.pending_since), "firing_since": isoformat_z(a.firing_since),
            "resolved_at": isoformat_z(a.resolved_at), "evaluated_at": isoformat_z(a.evaluated_at)}


@ops_bp.get("/alerts/", strict_slashes=False)
@monitor_access
def alerts_view():
    """Firing, pending and recently resolved alerts, silences in force, recent history."""
    now = utcnow()
    alerts = list(db.session.execute(select(Alert).order_by(Alert.rule, Alert.fingerprint)).scalars())
    history = db.session.execute(select(AlertHistory).order_by(AlertHistory.id.desc()).limit(50)).scalars()
    in_force = db.session.execute(select(Silence).where(Silence.ends_at > now).order_by(Silence.id)).scalars()
    return jsonify({
        "timestamp": isoformat_z(now),
        "firing": [_alert(a) for a in alerts if a.state == AlertState.FIRING],
        "pending": [_alert(a) for a in alerts if a.state == AlertState.PENDING],
        "resolved": [_alert(a) for a in alerts if a.state == AlertState.INACTIVE and a.resolved_at
                     and a.resolved_at >= now - RESOLVED_WINDOW],
        "silences": [silences.to_dict(s, now) for s in in_force],
        "history": [{"fingerprint": h.fingerprint, "rule": h.rule, "severity": h.severity, "from": h.from_state,
                     "to": h.to_state, "at": isoformat_z(h.at), "value": h.value,
                     "notification": h.notification} for h in history],
        "rules": sorted(RULES),
    })


def _run(run: JobRun | None) -> dict | None:
    if run is None:
        return None
    return {"period_key": run.period_key, "status": run.status, "attempts": run.attempts,
            "started_at": isoformat_z(run.started_at), "finished_at": isoformat_z(run.finished_at),
            "duration_seconds": run.duration_seconds, "worker": run.worker, "error": run.error}


def _latest(name, status) -> JobRun | None:
    return db.session.execute(select(JobRun).where(JobRun.job == name, JobRun.status == status)
                              .order_by(JobRun.period_start.desc(), JobRun.id.desc()).limit(1)).scalar_one_or_none()


@ops_bp.get("/jobs/", strict_slashes=False)
@monitor_access
def jobs_view():
    """Per scheduled job: last success/failure, next run, recent runs; queue depths, workers."""
    now = utcnow()
    config = current_app.config
    jobs = []
    for job in sched.schedule(config):
        recent = db.session.execute(select(JobRun).where(JobRun.job == job.name)
                                    .order_by(JobRun.period_start.desc(), JobRun.id.desc())
                                    .limit(RECENT_RUNS)).scalars()
        success = _latest(job.name, JobRunStatus.SUCCEEDED)
        jobs.append({
            "name": job.name, "function": job.func, "interval_seconds": job.interval, "cron": job.cron,
            "timeout_seconds": job.timeout, "retries": job.retries,
            "last_success": _run(success), "last_failure": _run(_latest(job.name, JobRunStatus.FAILED)),
            "last_duration_seconds": success.duration_seconds if success else None,
            "next_run": isoformat_z(sched.next_period_start(job, now)),
            "recent_runs": [_run(r) for r in recent],
        })
    failed_runs = db.session.scalar(select(db.func.count()).select_from(JobRun)
                                    .where(JobRun.status == JobRunStatus.FAILED))
    queue = queue_state(current_app)
    return jsonify({
        "timestamp": isoformat_z(now),
        "scheduler": "rq" if config.get("REDIS_URL") else "embedded",
        "jobs": jobs,
        "queue": {"name": queue["queue"], "available": queue["available"], "error": queue["error"],
                  "jobs": queue["jobs"]},
        "workers": queue["workers"],
        "failed_count": {"runs": int(failed_runs), "rq_failed_registry": queue["jobs"].get("failed")},
        "enqueue_errors": current_app.extensions.get("monitor_enqueue_errors", 0),
    })


@ops_bp.post("/jobs/<name>/run")
@admin_required
def run_job_view(name):
    """Run a scheduled job again for its current period: enqueued with Redis, else run here.

    With Redis unreachable the enqueue error is logged and counted and the job runs in this request.
    """
    from .jobs import runner
    from .scheduling.connection import redis_for
    from .scheduling.enqueue import count_enqueue_error
    from .scheduling.queues import queue_for

    try:
        job = sched.by_name(current_app.config, name)
    except KeyError:
        return error_response(404, f"No scheduled job named {name!r}",
                              jobs=[j.name for j in sched.schedule(current_app.config)])
    start = sched.period_start(job, utcnow())
    enqueue_error = None
    if redis_for(current_app) is not None:
        try:
            rq_job = queue_for(current_app).enqueue(
                "app.monitor.jobs.runner.run", args=(job.name, start.timestamp()), kwargs={"force": True},
                job_timeout=job.timeout, description=f"{job.name} {sched.period_key(start)} (manual)")
            return jsonify({"queued": True, "rq_job_id": rq_job.id, "period_key": sched.period_key(start)}), 202
        except Exception as exc:
            count_enqueue_error(current_app)
            current_app.logger.error("enqueue of %s failed: %s", name, exc)
            enqueue_error = f"{type(exc).__name__}: {exc}"
    outcome = runner.execute(job.name, start, force=True)
    return jsonify({"queued": False, "enqueue_error": enqueue_error, "outcome": outcome})


class SilenceSchema(Schema):
    rule = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(sorted(RULES)))
    severity = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(silences.SEVERITIES))
    starts_at = fields.AwareDateTime(load_default=None, allow_none=True)
    ends_at = fields.AwareDateTime(load_default=None, allow_none=True)
    duration_seconds = fields.Integer(load_default=None, allow_none=True,
                                      validate=validate.Range(min=1, max=366 * 86400))
    comment = fields.String(required=True, validate=validate.Length(min=1, max=1000))


@ops_bp.get("/silences/", strict_slashes=False)
@monitor_access
def silences_list():
    """All silences, newest first, with their state (pending, active, expired)."""
    now = utcnow()
    rows = db.session.execute(select(Silence).order_by(Silence.id.desc())).scalars()
    return jsonify({"silences": [silences.to_dict(s, now) for s in rows]})


@ops_bp.post("/silences/", strict_slashes=False)
@admin_required
def silences_create():
    """Create a silence: {rule?, severity?, starts_at?, ends_at | duration_seconds, comment}."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "Request body must be a JSON object")
    try:
        data = SilenceSchema().load(body)
    except ValidationError as exc:
        return error_response(400, "Invalid input: " + "; ".join(
            f"{k}: {' '.join(map(str, v))}" for k, v in exc.messages.items()), fields=exc.messages)
    now = utcnow()
    starts_at = data["starts_at"] or now
    ends_at = data["ends_at"]
    if ends_at is None and data["duration_seconds"] is None:
        return error_response(400, "Invalid input: ends_at or duration_seconds is required",
                              fields={"ends_at": ["ends_at or duration_seconds is required"]})
    if ends_at is None:
        ends_at = starts_at + timedelta(seconds=data["duration_seconds"])
    try:
        silence = silences.create(db.session, rule=data["rule"], severity=data["severity"], starts_at=starts_at,
                                  ends_at=ends_at, created_by=current_user.username, comment=data["comment"],
                                  now=now)
    except silences.SilenceError as exc:
        db.session.rollback()
        return error_response(400, f"Invalid input: {exc.field}: {exc}", fields={exc.field: [str(exc)]})
    db.session.commit()
    return jsonify(silences.to_dict(silence, now)), 201


@ops_bp.delete("/silences/<int:silence_id>")
@admin_required
def silences_expire(silence_id):
    """Expire a silence now (it stays listed as expired)."""
    now = utcnow()
    silence = silences.expire(db.session, silence_id, now)
    if silence is None:
        return error_response(404, f"No silence with id {silence_id}")
    db.session.commit()
    return jsonify(silences.to_dict(silence, now))


def init_app(app) -> None:
    """Register the operations views (JSON-only, CSRF-exempt like the other JSON APIs)."""
    from ..extensions import csrf
    from ..library import jsonapi

    csrf.exempt(ops_bp)
    app.register_blueprint(ops_bp)
    jsonapi.init_app(app, [ops_bp.name])
