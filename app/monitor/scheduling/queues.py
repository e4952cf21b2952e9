"""What RQ holds: queue depths per state and the workers alive (for /jobs/, health and metrics)."""
from rq import Queue, Worker

from ...timeutil import isoformat_z
from .connection import redis_for

STATES = ("queued", "started", "scheduled", "deferred", "failed", "finished")


def queue_for(app) -> Queue:
    return Queue(app.config["RQ_QUEUE"], connection=redis_for(app))


def queue_state(app) -> dict:
    """{queue, available, error, jobs: {state: n}, workers: [...]}; never raises on a Redis error."""
    name = app.config["RQ_QUEUE"]
    if redis_for(app) is None:
        return {"queue": name, "available": False, "error": "REDIS_URL not configured (embedded scheduler)",
                "jobs": {}, "workers": []}
    try:
        queue = queue_for(app)
        jobs = {
            "queued": queue.count,
            # Counting the started registry runs RQ's cleanup, which retries or fails abandoned jobs.
            "started": queue.started_job_registry.count,
            "scheduled": queue.scheduled_job_registry.count,
            "deferred": queue.deferred_job_registry.count,
            "failed": queue.failed_job_registry.count,
            "finished": queue.finished_job_registry.count,
        }
        workers = [{"name": w.name, "state": str(w.get_state()), "pid": w.pid,
                    "last_heartbeat": isoformat_z(w.last_heartbeat),
                    "current_job": w.get_current_job_id()}
                   for w in Worker.all(queue=queue)]
    except Exception as exc:  # Redis down or unreachable
        return {"queue": name, "available": False, "error": f"{type(exc).__name__}: {exc}",
                "jobs": {}, "workers": []}
    return {"queue": name, "available": True, "error": None, "jobs": jobs, "workers": workers}
