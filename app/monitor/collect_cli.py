"""`flask monitor collect`: run the scheduled jobs by hand (the original guide's collect_metrics)."""
import json

import click
from flask import current_app

from ..timeutil import utcnow
from . import schedule as sched
from .cli import monitor_cli
from .jobs import runner


def _run(name: str, force: bool) -> dict:
    job = sched.by_name(current_app.config, name)
    start = sched.period_start(job, utcnow())
    outcome = runner.execute(name, start, force=force)
    if outcome["status"] == "skipped":
        click.echo(f"{name}: period {outcome['period_key']} already done (use --force to run it again)")
    else:
        click.echo(f"{name}: {outcome['status']} for period {outcome['period_key']}")
        click.echo(json.dumps(outcome["result"], indent=2, default=str, sort_keys=True))
    return outcome


@monitor_cli.command("collect")
@click.option("--daily-stats", is_flag=True, help="Also store the daily statistics of today so far.")
@click.option("--health-check", is_flag=True, help="Also check database, Redis, queue and workers.")
@click.option("--alerts", is_flag=True, help="Also evaluate the alert rules (and notify).")
@click.option("--force", is_flag=True, help="Run even if this period was already collected.")
def collect_command(daily_stats, health_check, alerts, force):
    """Collect a metrics snapshot for the current period, once, like the scheduler would.

    Each job is claimed for its current period exactly as the scheduled run is, so
    running this next to the scheduler never doubles a period; --force re-runs it
    (the snapshot of the period is replaced, not duplicated).
    """
    _run("collect", force)
    if daily_stats:
        from .jobs.daily_stats import store_day

        today = utcnow().date()
        click.echo("daily_stats: " + json.dumps(store_day(today), sort_keys=True))
    if health_check:
        _run("health_check", force)
    if alerts:
        _run("evaluate_alerts", force)
