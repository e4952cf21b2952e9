"""`flask jobs worker|scheduler` and `flask alerts silence ...`."""
import getpass
import logging
import re
from datetime import timedelta

import click
from flask import current_app
from flask.cli import AppGroup

from ..extensions import db
from ..timeutil import utcnow
from .alerts import silences

jobs_cli = AppGroup("jobs", help="RQ worker and scheduler for the scheduled monitoring jobs.")
alerts_cli = AppGroup("alerts", help="Alert silences.")
silence_cli = AppGroup("silence", help="Create, list and expire silences.")
alerts_cli.add_command(silence_cli)


def _redis_or_fail():
    from .scheduling.connection import redis_for

    redis = redis_for(current_app)
    if redis is None:
        raise click.ClickException("REDIS_URL is not set: without Redis the web server runs the "
                                   "embedded scheduler instead (docs/jobs-and-alerts.md)")
    return redis


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@click.option("--name", default=None, help="Worker name (default: host:pid based).")
@click.option("--no-scheduler", is_flag=True, help="Do not run RQ's scheduler for delayed retries here.")
def worker_command(burst, name, no_scheduler):
    """Run an RQ worker on RQ_QUEUE; every job runs inside this app."""
    from .scheduling.worker import AppWorker

    redis = _redis_or_fail()
    worker = AppWorker([current_app.config["RQ_QUEUE"]], connection=redis, name=name,
                       app=current_app._get_current_object())
    worker.work(burst=burst, with_scheduler=not no_scheduler, logging_level="INFO")


@jobs_cli.command("scheduler")
def scheduler_command():
    """Run RQ's cron scheduler with the schedule of app/monitor/schedule.py.

    Run two or three for high availability: each period is enqueued once.
    """
    from .scheduling.rq_cron import AppCronScheduler

    redis = _redis_or_fail()
    AppCronScheduler(current_app._get_current_object(), redis, logging_level=logging.INFO).start()


_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _duration(value: str) -> timedelta:
    match = _DURATION.match(value.strip())
    if not match:
        raise click.BadParameter("use a number and a unit, e.g. 30m, 2h, 1d")
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


@silence_cli.command("add")
@click.option("--rule", default=None, help="Alert rule (alertname) to match.")
@click.option("--severity", default=None, type=click.Choice(silences.SEVERITIES), help="Severity to match.")
@click.option("--duration", "duration", default="2h", show_default=True, help="How long, e.g. 30m, 2h, 1d.")
@click.option("--comment", required=True, help="Why.")
@click.option("--created-by", default=None, help="Who (default: the current OS user).")
def silence_add(rule, severity, duration, comment, created_by):
    """Mute notifications of matching alerts from now for DURATION."""
    now = utcnow()
    try:
        silence = silences.create(db.session, rule=rule, severity=severity, starts_at=now,
                                  ends_at=now + _duration(duration), created_by=created_by or getpass.getuser(),
                                  comment=comment, now=now)
    except silences.SilenceError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{exc.field.replace('_', '-')}")
    db.session.commit()
    click.echo(f"silence {silence.id} active until {silences.to_dict(silence, now)['ends_at']}")


@silence_cli.command("list")
@click.option("--all", "show_all", is_flag=True, help="Include expired silences.")
def silence_list(show_all):
    """List silences in force (or all)."""
    from sqlalchemy import select

    from .models import Silence

    now = utcnow()
    rows = (db.session.execute(select(Silence).order_by(Silence.id)).scalars() if show_all
            else silences.active(db.session, now))
    for silence in rows:
        d = silences.to_dict(silence, now)
        click.echo(f"{d['id']}\t{d['state']}\trule={d['matchers']['rule'] or '*'}\t"
                   f"severity={d['matchers']['severity'] or '*'}\tuntil {d['ends_at']}\t{d['created_by']}: {d['comment']}")


@silence_cli.command("expire")
@click.argument("silence_id", type=int)
def silence_expire(silence_id):
    """End silence SILENCE_ID now."""
    silence = silences.expire(db.session, silence_id, utcnow())
    if silence is None:
        raise click.ClickException(f"no silence with id {silence_id}")
    db.session.commit()
    click.echo(f"silence {silence_id} expired")


def init_app(app):
    """Register `flask jobs` and `flask alerts`."""
    app.cli.add_command(jobs_cli)
    app.cli.add_command(alerts_cli)
