"""The schedule, as data: which job runs how often, with what timeout and retries.

Every scheduler (RQ's cron scheduler, the embedded one) reads this list; the
job name is the stable id that period claims and metrics use.
"""
from dataclasses import dataclass
from datetime import datetime, timezone

from croniter import croniter

DAY = 86400


@dataclass(frozen=True)
class ScheduledJob:
    name: str
    func: str                 # dotted path of a function taking the period start (aware datetime)
    interval: int | None      # seconds; periods are aligned to the Unix epoch (86400 = UTC midnight)
    cron: str | None = None   # alternative to interval (RQ's cron syntax, evaluated in UTC here)
    timeout: int = 60         # seconds before the job is killed
    retries: int = 3          # attempts after the first, with JOB_RETRY_INTERVALS backoff

    @property
    def dead_after_seconds(self) -> int:
        """The dead-man's switch: no success for twice the interval."""
        return 2 * (self.interval or DAY)


def schedule(config) -> list[ScheduledJob]:
    """The scheduled jobs for an app configuration (MONITOR_SCHEDULE, set by an app factory, replaces them)."""
    if config.get("MONITOR_SCHEDULE"):
        return list(config["MONITOR_SCHEDULE"])
    every = int(config["MONITOR_COLLECT_INTERVAL_SECONDS"])
    return [
        ScheduledJob("collect", "app.monitor.jobs.collect.collect", every, timeout=max(30, every)),
        ScheduledJob("evaluate_alerts", "app.monitor.jobs.evaluate_alerts.evaluate_alerts", every,
                     timeout=max(60, every)),
        ScheduledJob("health_check", "app.monitor.jobs.health_check.health_check", every, timeout=30),
        ScheduledJob("daily_stats", "app.monitor.jobs.daily_stats.daily_stats", DAY, timeout=600),
        ScheduledJob("prune", "app.monitor.jobs.prune.prune", DAY, timeout=600),
    ]


def by_name(config, name: str) -> ScheduledJob:
    """The scheduled job called `name` (KeyError when there is none)."""
    for job in schedule(config):
        if job.name == name:
            return job
    raise KeyError(name)


def period_start(job: ScheduledJob, at: datetime) -> datetime:
    """Start of the period of `job` that contains the instant `at`."""
    if job.interval:
        ts = int(at.timestamp()) // job.interval * job.interval
        return datetime.fromtimestamp(ts, timezone.utc)
    return croniter(job.cron, at.astimezone(timezone.utc)).get_prev(datetime).astimezone(timezone.utc)


def next_period_start(job: ScheduledJob, at: datetime) -> datetime:
    """Start of the first period of `job` after the one containing `at`."""
    if job.interval:
        return datetime.fromtimestamp(period_start(job, at).timestamp() + job.interval, timezone.utc)
    return croniter(job.cron, at.astimezone(timezone.utc)).get_next(datetime).astimezone(timezone.utc)


def period_key(start: datetime) -> str:
    """The claim key of a period: its start instant, `2026-01-01T00:00:00Z`."""
    return start.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
