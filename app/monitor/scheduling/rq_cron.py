"""RQ's cron scheduler (rq.cron.CronScheduler) running the schedule, aligned to periods.

RQ's CronScheduler gives the loop, the scheduler registry that `rq info`-style
tools read, heartbeats and signal handling. Where it falls short for us:
- an interval job runs "every N seconds from when this scheduler started", so
  three schedulers enqueue at three different instants and nothing names the
  period; PeriodCronJob aligns runs to period starts and passes the period
  start to the job;
- every scheduler enqueues every job: PeriodCronJob enqueues through the
  SET NX claim (enqueue.py), so a period is enqueued once across schedulers;
- CronJob cannot attach `Retry` or a failure callback; enqueue_period does;
- a Redis error in the heartbeat ends RQ's loop: AppCronScheduler logs it and
  carries on, so a scheduler survives a Redis restart.
"""
import logging
from datetime import timedelta

from rq.cron import CronJob, CronScheduler
from rq.utils import now

from .. import schedule as sched
from .enqueue import enqueue_period

log = logging.getLogger(__name__)


class PeriodCronJob(CronJob):
    """One scheduled job; due at each period start, enqueued with the period start."""

    def __init__(self, app, job: sched.ScheduledJob):
        super().__init__(queue_name=app.config["RQ_QUEUE"], func_name="app.monitor.jobs.runner.run",
                         interval=job.interval, cron=job.cron, job_timeout=job.timeout,
                         name=f"{app.config['RQ_QUEUE']}:{job.name}")
        self.app, self.job = app, job
        self._retry_soon = False
        # The period in progress is due at once: a scheduler starting mid-period
        # enqueues it unless another scheduler already did.
        self.next_enqueue_time = sched.period_start(job, now())

    def get_next_enqueue_time(self):
        if self._retry_soon:
            return now() + timedelta(seconds=min(5.0, (self.job.interval or 60) / 2))
        return sched.next_period_start(self.job, self.latest_enqueue_time or now())

    def should_run(self) -> bool:
        return now() >= self.next_enqueue_time

    def enqueue(self, connection):
        """Enqueue the current period through the cross-scheduler claim."""
        result = enqueue_period(self.app, self.job, sched.period_start(self.job, now()))
        self._retry_soon = result is False  # Redis error: try again within the period
        return result


class AppCronScheduler(CronScheduler):
    """CronScheduler whose Redis bookkeeping survives Redis being briefly unreachable."""

    def __init__(self, app, connection, **kwargs):
        super().__init__(connection=connection, **kwargs)
        self.app = app
        for job in sched.schedule(app.config):
            self._cron_jobs.append(PeriodCronJob(app, job))

    def _tolerant(self, method, *args):
        try:
            return method(*args)
        except Exception as exc:  # redis.exceptions.RedisError and socket errors
            log.error("cron scheduler %s: Redis bookkeeping failed: %s", self.name, exc)
            return None

    def heartbeat(self):
        return self._tolerant(super().heartbeat)

    def save(self, pipeline=None):
        return self._tolerant(super().save, pipeline)

    def register_birth(self):
        return self._tolerant(super().register_birth)

    def register_death(self, pipeline=None):
        return self._tolerant(super().register_death, pipeline)

    def calculate_sleep_interval(self) -> float:
        # Wake at the next period start, but at least every second so a short
        # test interval or a retry is not missed.
        return min(super().calculate_sleep_interval(), 1.0)
