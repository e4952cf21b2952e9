"""Enqueue one period of a scheduled job on RQ, once across all schedulers.

`SET key NX EX` on `<prefix>:claim:<queue>:<job>:<period>` lets the first
scheduler of a period enqueue it and makes the others skip; the JobRun insert
in the worker is the second, durable guard (a claim key lost with Redis, or a
scheduler dying between claim and enqueue, can at worst cost one period).
"""
import logging
import os
import socket
from datetime import datetime

from rq import Callback, Retry

from .. import schedule as sched
from .connection import redis_for
from .queues import queue_for

log = logging.getLogger(__name__)


def claim_key(app, job: sched.ScheduledJob, start: datetime) -> str:
    return f"{app.config['MONITOR_REDIS_PREFIX']}:claim:{app.config['RQ_QUEUE']}:{job.name}:{sched.period_key(start)}"


def count_enqueue_error(app) -> None:
    """Count an enqueue failure (library_job_enqueue_errors_total, this process)."""
    app.extensions["monitor_enqueue_errors"] = app.extensions.get("monitor_enqueue_errors", 0) + 1


def enqueue_period(app, job: sched.ScheduledJob, start: datetime):
    """Enqueue `job` for the period starting at `start` unless another scheduler did.

    Returns the RQ job, None when the period was already claimed, or False on a
    Redis error (logged and counted, never raised).
    """
    redis = redis_for(app)
    ttl = max(2 * (job.interval or sched.DAY), 60)
    try:
        # The value names the claiming scheduler, for operators (and the failover test).
        if not redis.set(claim_key(app, job, start), f"{socket.gethostname()}:{os.getpid()}", nx=True, ex=ttl):
            return None
        intervals = app.config["JOB_RETRY_INTERVALS"][:job.retries] or [0]
        return queue_for(app).enqueue(
            "app.monitor.jobs.runner.run", args=(job.name, start.timestamp()),
            job_timeout=job.timeout, retry=Retry(max=job.retries, interval=intervals) if job.retries else None,
            on_failure=Callback("app.monitor.jobs.runner.on_rq_failure"),
            description=f"{job.name} {sched.period_key(start)}",
            result_ttl=86400, failure_ttl=7 * 86400,
        )
    except Exception as exc:
        count_enqueue_error(app)
        log.error("could not enqueue %s for %s: %s", job.name, sched.period_key(start), exc)
        return False
