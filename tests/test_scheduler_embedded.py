"""The embedded scheduler (no Redis): one per process tree, started by `flask run`'s first request."""
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from app import create_app
from app.extensions import db
from app.monitor.scheduling.embedded import EmbeddedScheduler

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")


def test_only_one_scheduler_holds_the_lock_and_runs(app, tmp_path):
    lock = tmp_path / "monitor-scheduler.lock"
    first, second = EmbeddedScheduler(app, lock), EmbeddedScheduler(app, lock)
    assert first.acquire() is True
    assert second.acquire() is False  # flock is per open file description: a second holder is refused
    outcomes = first.run_due()
    assert sorted(o["job"] for o in outcomes) == ["collect", "daily_stats", "evaluate_alerts", "health_check",
                                                  "prune"]
    assert {o["status"] for o in outcomes} == {"succeeded"}
    assert first.run_due() == []  # same periods: nothing to do
    first._lock_file.close()
    assert second.acquire() is True  # the holder went away: another takes over


def test_flask_run_with_reloader_collects_once_per_period(tmp_path):
    db_path = tmp_path / "embedded.db"
    setup = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}"})
    with setup.app_context():
        db.create_all()
        for engine in db.engines.values():
            engine.dispose()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLASK_", "REDIS_URL"))},
           "DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "t", "OTEL_SDK_DISABLED": "true",
           "MONITOR_COLLECT_INTERVAL_SECONDS": "1", "FLASK_APP": "app"}
    log = open(tmp_path / "run.log", "w")
    proc = subprocess.Popen([FLASK, "run", "--reload", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        time.sleep(4)
        with sqlite3.connect(db_path) as conn:
            keys = [k for (k,) in conn.execute("SELECT period_key FROM monitor_metric_snapshots")]
            workers = {w for (w,) in conn.execute("SELECT DISTINCT worker FROM monitor_job_runs")}
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    assert len(keys) >= 3 and len(keys) == len(set(keys)), (tmp_path / "run.log").read_text()
    assert len(workers) == 1  # one process (the reloader's serving child) ran every job
