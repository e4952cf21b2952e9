"""The in-process scheduler used without REDIS_URL (the embedded default of `make run`).

One per process tree: a thread started lazily by the first request this
process serves - never by the factory, so tests and CLI commands start no
threads; with the Flask reloader only the serving child gets requests - and
then only the process holding an exclusive lock on instance/monitor-scheduler-<db>.lock
runs jobs (gunicorn workers sharing the instance folder queue behind it; if
the holder dies the lock is released and another takes over). Each run still
goes through the JobRun claim, so even two schedulers never run a period twice.

Limits: a job cannot be killed on timeout in a thread (its deadline marks it
failed for monitoring instead), and jobs run one after another.
"""
import fcntl
import hashlib
import logging
import os
import threading
import time
from datetime import timedelta
from pathlib import Path

from flask import request

from ...timeutil import utcnow
from .. import schedule as sched
from ..jobs import runner

log = logging.getLogger(__name__)


class EmbeddedScheduler(threading.Thread):
    """Runs each scheduled job once per period, in this process, holding the instance lock."""

    def __init__(self, app, lock_path: Path, clock=utcnow, sleep=time.sleep):
        super().__init__(name="monitor-scheduler", daemon=True)
        self.app, self.lock_path, self.clock, self.sleep = app, Path(lock_path), clock, sleep
        self._lock_file = None
        self._stopping = threading.Event()  # not `_stop`: Thread.join calls its own _stop()
        self._done = {}      # job name -> period start finished (or skipped) by this scheduler
        self._retry = {}     # job name -> (period start, attempts, next attempt instant)

    def acquire(self) -> bool:
        """Take the process-tree lock (non-blocking); True when this process holds it."""
        if self._lock_file is not None:
            return True
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.lock_path, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle
        return True

    def run_due(self) -> list[dict]:
        """Run every job whose current period this scheduler has not handled; returns the outcomes."""
        now = self.clock()
        outcomes = []
        for job in sched.schedule(self.app.config):
            start = sched.period_start(job, now)
            if self._done.get(job.name) == start:
                continue
            retry = self._retry.get(job.name)
            if retry and retry[0] == start and now < retry[2]:
                continue
            with self.app.app_context():
                try:
                    outcomes.append(runner.execute(job.name, start))
                    self._done[job.name] = start
                    self._retry.pop(job.name, None)
                except Exception as exc:
                    attempts = retry[1] + 1 if retry and retry[0] == start else 1
                    if attempts > job.retries:
                        self._done[job.name] = start  # retries exhausted: the run stays failed
                        self._retry.pop(job.name, None)
                    else:
                        intervals = self.app.config["JOB_RETRY_INTERVALS"] or [0]
                        delay = intervals[min(attempts - 1, len(intervals) - 1)]
                        self._retry[job.name] = (start, attempts, now + timedelta(seconds=delay))
                    outcomes.append({"job": job.name, "period_key": sched.period_key(start),
                                     "status": "failed", "error": str(exc)})
        return outcomes

    def run(self):
        while not self._stopping.is_set():
            try:
                if self.acquire():
                    self.run_due()
            except Exception:
                log.exception("embedded scheduler loop failed; continuing")
            self._stopping.wait(1.0)

    def stop(self):
        self._stopping.set()


OFF = ("0", "false", "no", "off")


def lock_path(app) -> Path:
    """instance/monitor-scheduler-<database hash>.lock: one scheduler per database, not per folder."""
    digest = hashlib.sha256(app.config["SQLALCHEMY_DATABASE_URI"].encode()).hexdigest()[:12]
    return Path(app.instance_path) / f"monitor-scheduler-{digest}.lock"


def init_app(app) -> None:
    """Start the embedded scheduler on this process's first request, when enabled.

    Never with REDIS_URL (RQ runs the jobs) or under TESTING. MONITOR_EMBEDDED_SCHEDULER:
    `auto` (default) starts it only under the Werkzeug server of `flask run` / `make run`
    - a gunicorn deployment is expected to run `flask jobs` with Redis, and jobs in a
    serving worker's thread would add to its request latency -; `true` starts it under
    any server; `false` never.
    """
    mode = str(app.config.get("MONITOR_EMBEDDED_SCHEDULER", "auto")).lower()
    if app.config.get("TESTING") or mode in OFF or app.config.get("REDIS_URL"):
        return
    state = {"started": False}
    guard = threading.Lock()

    @app.before_request
    def _start_scheduler():
        if state["started"]:
            return
        with guard:
            if state["started"]:
                return
            state["started"] = True
            if mode == "auto" and not request.environ.get("SERVER_SOFTWARE", "").startswith("Werkzeug/"):
                return
            scheduler = EmbeddedScheduler(app, lock_path(app))
            app.extensions["monitor_embedded_scheduler"] = scheduler
            scheduler.start()
            log.info("embedded monitor scheduler started in pid %s", os.getpid())
