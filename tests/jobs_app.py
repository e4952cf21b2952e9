"""App factory for the worker/scheduler subprocesses of the scheduler tests.

`flask --app tests.jobs_app:create jobs worker` gets the normal app, with the
schedule narrowed by JOBS_TEST_SCHEDULE: "collect" (collection only, every
MONITOR_COLLECT_INTERVAL_SECONDS) or "crash" (the slow and failing jobs below).
"""
import os
import time
from pathlib import Path

from app import create_app
from app.monitor.schedule import ScheduledJob


def sleepy(period_start):
    """First attempt: write this pid to JOBS_TEST_MARKER and sleep (to be killed); later ones return."""
    marker = Path(os.environ["JOBS_TEST_MARKER"])
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(60)
    return {"pid": os.getpid()}


def always_fails(period_start):
    raise RuntimeError("always fails")


def create():
    kind = os.environ.get("JOBS_TEST_SCHEDULE", "collect")
    every = int(os.environ.get("MONITOR_COLLECT_INTERVAL_SECONDS", "1"))
    if kind == "collect":
        jobs = [ScheduledJob("collect", "app.monitor.jobs.collect.collect", every, timeout=30, retries=1)]
    else:
        jobs = [ScheduledJob("sleepy", "tests.jobs_app.sleepy", 3600, timeout=120, retries=1),
                ScheduledJob("always_fails", "tests.jobs_app.always_fails", 3600, timeout=30, retries=1)]
    return create_app({"MONITOR_SCHEDULE": jobs})
