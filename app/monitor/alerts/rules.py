"""Alert rules and their inputs, measured now from the database, Redis and request timings.

Each rule yields samples: one per alert instance (the dead-man's switch has one
per scheduled job). A sample is `active` when its condition holds now; the
lifecycle turns that into pending / firing / resolved.
"""
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select

from ...library.models import User
from .. import schedule as sched
from ..jobs.collect import pending_verification
from ..models import JobRun, JobRunStatus
from ..stats.books import books_overview
from ..stats.loans import loans_overview

CRITICAL, WARNING = "critical", "warning"
FAILED_JOBS_WINDOW = timedelta(hours=1)


@dataclass(frozen=True)
class Rule:
    name: str                 # the alertname label
    severity: str
    for_seconds: int          # how long the condition must hold before firing
    keep_firing_seconds: int  # how long a firing alert stays firing after the condition clears
    summary: str              # formatted with value, threshold and the labels


RULES = {rule.name: rule for rule in (
    Rule("HighErrorRate", CRITICAL, 300, 300,
         "5xx error rate {value:.2f}% is at or above {threshold}% (last 5 minutes)"),
    Rule("SlowRequests", CRITICAL, 300, 300,
         "Request latency p95 {value:.0f} ms is at or above {threshold} ms (last 5 minutes)"),
    Rule("LowBookAvailability", CRITICAL, 600, 300,
         "Book availability {value:.2f}% is at or below {threshold}%"),
    Rule("HighOverdueRate", CRITICAL, 600, 300,
         "Overdue rate {value:.2f}% is at or above {threshold}%"),
    Rule("VerificationBacklog", WARNING, 0, 0,
         "Oldest pending verification waits {value:.1f} h (threshold {threshold} h)"),
    Rule("QueueBacklog", WARNING, 300, 120,
         "{value:.0f} jobs waiting in the queue (threshold {threshold})"),
    Rule("FailedJobs", WARNING, 0, 0,
         "{value:.0f} scheduled job runs failed in the last hour (threshold {threshold})"),
    Rule("JobDeadMansSwitch", CRITICAL, 0, 0,
         "Job {job} has not succeeded for {value:.0f} s (expected at least every {threshold:.0f} s)"),
)}


@dataclass
class Sample:
    rule: Rule
    value: float | None
    threshold: float
    active: bool
    labels: dict = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.rule.name}{{{extra}}}"

    @property
    def summary(self) -> str:
        if self.value is None:
            return f"{self.rule.name}: no data"
        return self.rule.summary.format(value=self.value, threshold=self.threshold, **self.labels)


def _above(rule, value, threshold):
    return Sample(RULES[rule], value, threshold, value is not None and value >= threshold)


def request_samples(window: dict, settings) -> list[Sample]:
    """Error rate and p95 latency from the shared request window ({requests, errors, p95_seconds})."""
    requests = window.get("requests") or 0
    error_rate = round(window["errors"] * 100.0 / requests, 2) if requests else None
    p95 = window.get("p95_seconds")
    p95_ms = round(p95 * 1000, 1) if (requests and p95 is not None) else None
    return [_above("HighErrorRate", error_rate, settings["ALERT_ERROR_RATE_PERCENT"]),
            _above("SlowRequests", p95_ms, settings["ALERT_RESPONSE_TIME_MS"])]


def database_samples(session, now: datetime, settings) -> list[Sample]:
    """Availability, overdue rate, verification backlog, failed runs, dead-man's switches."""
    books = books_overview(session)
    availability = books["availability_rate"] if books["total_books"] else None
    threshold = settings["ALERT_BOOK_AVAILABILITY_PERCENT"]
    samples = [Sample(RULES["LowBookAvailability"], availability, threshold,
                      availability is not None and availability <= threshold)]

    loans = loans_overview(session, now)
    overdue = loans["overdue_rate"] if loans["active_loans"] else None
    samples.append(_above("HighOverdueRate", overdue, settings["ALERT_OVERDUE_RATE_PERCENT"]))

    oldest = session.scalar(select(func.min(User.verification_requested_at)).where(pending_verification()))
    backlog_hours = round((now - oldest).total_seconds() / 3600, 2) if oldest else None
    samples.append(_above("VerificationBacklog", backlog_hours, settings["ALERT_VERIFICATION_BACKLOG_HOURS"]))

    failed = session.scalar(select(func.count()).select_from(JobRun).where(
        JobRun.status == JobRunStatus.FAILED, JobRun.finished_at >= now - FAILED_JOBS_WINDOW))
    samples.append(_above("FailedJobs", int(failed), settings["ALERT_FAILED_JOBS"]))
    samples.extend(dead_mans_switches(session, now, settings))
    return samples


def dead_mans_switches(session, now: datetime, settings) -> list[Sample]:
    """Per scheduled job: seconds since its last success (since monitoring began if never).

    Monitoring began at the first recorded run of any job; with no run at all
    there is nothing to measure from and the switches are not evaluated.
    """
    last_success = dict(session.execute(
        select(JobRun.job, func.max(JobRun.finished_at)).where(JobRun.status == JobRunStatus.SUCCEEDED)
        .group_by(JobRun.job)).all())
    began = session.scalar(select(func.min(JobRun.started_at)))
    samples = []
    for job in sched.schedule(settings):
        since = last_success.get(job.name) or began
        age = round((now - since).total_seconds(), 1) if since else None
        samples.append(Sample(RULES["JobDeadMansSwitch"], age, float(job.dead_after_seconds),
                              age is not None and age > job.dead_after_seconds, {"job": job.name}))
    return samples


def queue_samples(queue_state: dict, settings) -> list[Sample]:
    """Queue depth from Redis (no sample without a queue)."""
    if not queue_state.get("available"):
        return []
    return [_above("QueueBacklog", queue_state["jobs"]["queued"], settings["ALERT_QUEUE_DEPTH"])]
