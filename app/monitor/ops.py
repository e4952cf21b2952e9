"""Wiring of the scheduled jobs and alerting: one init_app for the monitor blueprint to call."""


def init_app(app) -> None:
    """Operations views, CLI groups, request window, job metrics, embedded scheduler (lazy)."""
    from . import job_metrics, jobs_cli, views_ops
    from .alerts import request_window
    from .scheduling import embedded

    views_ops.init_app(app)
    jobs_cli.init_app(app)
    request_window.init_app(app)
    job_metrics.init_app(app)
    embedded.init_app(app)
