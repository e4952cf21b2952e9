"""The RQ worker class: jobs run inside the app, created once per worker process.

Usable from `flask jobs worker` or plain `rq worker -w app.monitor.scheduling.worker.AppWorker`.
"""
import logging

from rq import Worker

from ...extensions import db
from ..jobs import runner

log = logging.getLogger(__name__)


class AppWorker(Worker):
    """An RQ Worker that pushes an app context for its whole life (the forked horses inherit it)."""

    def __init__(self, *args, app=None, **kwargs):
        if app is None:
            from ... import create_app

            app = create_app()
        self.app = app
        runner.set_worker_app(app)
        super().__init__(*args, **kwargs)

    def work(self, *args, **kwargs):
        with self.app.app_context():
            return super().work(*args, **kwargs)

    def perform_job(self, job, queue, execution):
        # In the forked horse: drop pooled connections inherited from the parent
        # (without closing them - they belong to the parent) so each job opens its own.
        with self.app.app_context():
            for engine in db.engines.values():
                engine.dispose(close=False)
            return super().perform_job(job, queue, execution)

    def handle_work_horse_killed(self, job, retpid, ret_val, rusage):
        """The horse died (SIGKILL, OOM): mark the run failed now; RQ then retries or fails the job."""
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        try:
            with self.app.app_context():
                runner.mark_failed(job.id, f"work horse killed (waitpid status {ret_val})")
        except Exception:
            log.exception("could not record the killed run of job %s", job.id)
