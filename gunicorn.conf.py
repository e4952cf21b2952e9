"""Gunicorn settings for the library service (docs/deployment.md).

    gunicorn -c gunicorn.conf.py wsgi:app            # add --preload to import the app once, in the master

HOST / PORT (default 127.0.0.1:8000) choose the address, WEB_CONCURRENCY the number of workers.

Telemetry is started in each worker after the fork, never in the master: the SDK's batch span
processor and periodic metric reader run background threads, and a thread that exists at fork
time is not copied into the child (its queue is lost, or its lock is held forever). Every
worker also needs a Resource of its own (service.instance.id), or the collector would merge four
processes' cumulative counters into one series.
"""
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))

# Read by app/config.py: create_app() (in the master under --preload) then instruments the app
# but builds no providers and starts no exporter thread; post_worker_init starts them.
os.environ["TELEMETRY_DEFER_START"] = "true"


def _is_worker_process(worker) -> bool:
    # gunicorn also calls worker_exit in the master when it reaps a worker that already exited.
    return worker.pid == os.getpid()


def post_worker_init(worker):
    """In the worker, after the app is loaded: build this process's providers and exporters."""
    from app import telemetry

    telemetry.start_worker(worker.wsgi)


def worker_exit(server, worker):
    """In the exiting worker: flush pending spans and metrics to the collector."""
    app = getattr(worker, "wsgi", None)
    if app is None or not _is_worker_process(worker):
        return
    from app import telemetry

    telemetry.shutdown(app)
