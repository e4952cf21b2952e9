"""Real `flask jobs scheduler` / `flask jobs worker` processes on real Redis and a shared SQLite file.

Each test uses its own queue name and key prefix and deletes only its own keys.
"""
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import redis as redis_lib

from app import create_app
from app.extensions import db

ROOT = Path(__file__).resolve().parent.parent
FLASK = str(Path(sys.executable).parent / "flask")
REDIS_URL = os.environ.get("REDIS_TEST_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_client():
    client = redis_lib.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis_lib.exceptions.ConnectionError as exc:
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


class Cluster:
    """Schedulers and workers of one test, on one SQLite file, queue and key prefix."""

    def __init__(self, tmp_path, redis_client, schedule):
        self.tag = uuid.uuid4().hex[:10]
        self.queue = f"test-jobs-{self.tag}"
        self.prefix = f"test:jobs:{self.tag}"
        self.db_path = tmp_path / "jobs.db"
        self.redis = redis_client
        self.tmp_path = tmp_path
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLASK_"))},
            "DATABASE_URL": f"sqlite:///{self.db_path}", "REDIS_URL": REDIS_URL, "RQ_QUEUE": self.queue,
            "MONITOR_REDIS_PREFIX": self.prefix, "MONITOR_COLLECT_INTERVAL_SECONDS": "1",
            "JOB_RETRY_INTERVALS": "0", "OTEL_SDK_DISABLED": "true", "SECRET_KEY": "test",
            "JOBS_TEST_SCHEDULE": schedule, "JOBS_TEST_MARKER": str(tmp_path / "marker"),
        }
        self.procs = []
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{self.db_path}",
                          "REDIS_URL": REDIS_URL, "RQ_QUEUE": self.queue, "MONITOR_REDIS_PREFIX": self.prefix,
                          "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://",
                          "JOB_RETRY_INTERVALS": [0]})
        with app.app_context():
            db.create_all()
            for engine in db.engines.values():
                engine.dispose()
        self.app = app

    def start(self, *command, name=None):
        log = open(self.tmp_path / f"{command[0]}-{len(self.procs)}.log", "w")
        args = [FLASK, "--app", "tests.jobs_app:create", "jobs", *command]
        if name:
            args += ["--name", f"{self.tag}-{name}"]
        proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = log.name
        self.procs.append(proc)
        return proc

    def sql(self, query, *params):
        with sqlite3.connect(self.db_path, timeout=30) as conn:
            return conn.execute(query, params).fetchall()

    def close(self):
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        marker = self.tmp_path / "marker"
        if marker.exists():
            try:
                os.kill(int(marker.read_text()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass
        self._delete_keys()

    def _delete_keys(self):
        job_ids = set(self.redis.lrange(f"rq:queue:{self.queue}", 0, -1))
        for registry in ("wip", "failed", "finished", "scheduled", "deferred", "canceled"):
            job_ids.update(self.redis.zrange(f"rq:{registry}:{self.queue}", 0, -1))
        keys = [f"rq:job:{j.decode().split(':')[0]}" for j in job_ids]
        for pattern in (f"*{self.queue}*", f"{self.prefix}:*", f"*{self.tag}*"):
            keys += list(self.redis.scan_iter(match=pattern, count=1000))
        for key in set(keys):
            key = key.decode() if isinstance(key, bytes) else key
            if key.startswith("rq:job:"):
                for suffix in ("", ":executions", ":results"):
                    self.redis.delete(key + suffix)
            self.redis.delete(key)


@pytest.fixture
def cluster_factory(tmp_path, redis_client):
    made = []

    def make(schedule="collect"):
        made.append(Cluster(tmp_path, redis_client, schedule))
        return made[-1]

    yield make
    for cluster in made:
        cluster.close()


def wait_for(predicate, timeout, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def periods(cluster):
    return [int(time.mktime(time.strptime(k, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone)
            for (k,) in cluster.sql("SELECT period_key FROM monitor_metric_snapshots ORDER BY period_key")]


def test_three_schedulers_two_workers_ten_periods_exactly_ten_rows_then_failover(cluster_factory):
    cluster = cluster_factory("collect")
    for i in range(2):
        cluster.start("worker", "--no-scheduler", name=f"w{i}")
    schedulers = [cluster.start("scheduler") for _ in range(3)]
    assert wait_for(lambda: len(periods(cluster)) >= 1, 30), "no collection at all"
    first = periods(cluster)[0]
    assert wait_for(lambda: len([p for p in periods(cluster) if p < first + 10]) == 10 and
                    max(periods(cluster)) >= first + 10, 30)
    ten = [p for p in periods(cluster) if p < first + 10]
    assert ten == list(range(first, first + 10))  # ten periods, ten rows, no gap
    runs = cluster.sql("SELECT period_key, attempts, status FROM monitor_job_runs WHERE job='collect'")
    assert len(runs) == len(periods(cluster)) and {(a, s) for _, a, s in runs} <= {(1, "succeeded"), (1, "running")}
    # Only one scheduler enqueued each period: RQ ran exactly one collect job per period so far.
    finished = cluster.redis.zcard(f"rq:finished:{cluster.queue}")
    assert finished <= len(periods(cluster)) + 1

    # Kill the scheduler that claimed the latest period; the other two carry on within two periods.
    latest = max(periods(cluster))
    key = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(latest))
    owner = cluster.redis.get(f"{cluster.prefix}:claim:{cluster.queue}:collect:{key}").decode()
    victim = next(p for p in schedulers if owner.endswith(f":{p.pid}"))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = int(time.time())
    assert wait_for(lambda: [p for p in periods(cluster) if p > killed_at + 2], 15), "collection stopped"
    after = sorted(set(periods(cluster)))
    assert [p for p in range(killed_at + 1, max(after) + 1) if p not in after] in ([], [killed_at + 1]), \
        "more than one period lost after the failover"
    assert len(after) == len(periods(cluster))  # still one row per period


def test_killed_work_horse_is_marked_failed_then_retried_and_failures_reach_failed_registry(cluster_factory):
    from app.monitor import schedule as sched
    from app.monitor.job_metrics import job_run_counts
    from app.monitor.scheduling.enqueue import enqueue_period
    from app.monitor.scheduling.queues import queue_state
    from tests.jobs_app import create

    cluster = cluster_factory("crash")
    worker = cluster.start("worker", "--no-scheduler", name="w0")
    app = cluster.app
    jobs = {j.name: j for j in (create.__globals__["ScheduledJob"]("sleepy", "tests.jobs_app.sleepy", 3600,
                                                                  timeout=120, retries=1),
                                create.__globals__["ScheduledJob"]("always_fails", "tests.jobs_app.always_fails",
                                                                  3600, timeout=30, retries=1))}
    app.config["MONITOR_SCHEDULE"] = list(jobs.values())
    start = sched.period_start(jobs["sleepy"], __import__("app.timeutil", fromlist=["utcnow"]).utcnow())
    assert enqueue_period(app, jobs["sleepy"], start)
    assert enqueue_period(app, jobs["sleepy"], start) is None  # a second scheduler's attempt: claimed
    marker = cluster.tmp_path / "marker"
    assert wait_for(lambda: marker.exists() and marker.read_text(), 20)
    assert cluster.sql("SELECT status, attempts FROM monitor_job_runs WHERE job='sleepy'") == [("running", 1)]
    os.kill(int(marker.read_text()), signal.SIGKILL)  # the work horse dies mid-job

    def sleepy_done():
        rows = cluster.sql("SELECT status, attempts, error FROM monitor_job_runs WHERE job='sleepy'")
        return rows if rows and rows[0][0] == "succeeded" else None

    assert wait_for(sleepy_done, 20) == [("succeeded", 2, "work horse killed (waitpid status 9)")]

    assert enqueue_period(app, jobs["always_fails"], start)
    assert wait_for(lambda: cluster.sql(
        "SELECT status, attempts FROM monitor_job_runs WHERE job='always_fails' AND status='failed' "
        "AND attempts=2"), 20) == [("failed", 2)]
    assert wait_for(lambda: queue_state(app)["jobs"].get("failed") == 1, 10)
    with app.app_context():
        counts = {(a["job"], a["result"]): n for n, a in job_run_counts(db.session)}
    assert counts == {("sleepy", "succeeded"): 1, ("sleepy", "failed"): 1,
                      ("always_fails", "succeeded"): 0, ("always_fails", "failed"): 2}
    assert worker.poll() is None  # the worker itself survived its horse


def test_redis_down_web_requests_unaffected_enqueue_errors_counted_scheduler_survives(tmp_path):
    from tests.factories import Factory, login

    dead = "redis://127.0.0.1:1/0"
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'r.db'}",
                      "REDIS_URL": dead, "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://",
                      "MONITOR_CACHE_SECONDS": 0})
    with app.app_context():
        db.create_all()
        Factory().admin()
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert login(client, "admin").status_code == 200
    jobs = client.get("/api/analytics/monitor/jobs/")
    assert jobs.status_code == 200
    assert jobs.get_json()["queue"]["available"] is False
    assert "ConnectionError" in jobs.get_json()["queue"]["error"]
    run = client.post("/api/analytics/monitor/jobs/collect/run")
    assert run.status_code == 200
    body = run.get_json()
    assert body["queued"] is False and body["enqueue_error"].startswith("ConnectionError")
    assert body["outcome"]["status"] == "succeeded"  # ran in the request instead
    assert client.get("/api/analytics/monitor/jobs/").get_json()["enqueue_errors"] == 1
    # A scrape carries no session (a logged-in one holds SQLite's write lock during the callbacks).
    metrics = app.test_client().get("/metrics").get_data(as_text=True)
    assert "library_job_enqueue_errors_total 1.0" in metrics

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "FLASK_"))},
           "DATABASE_URL": f"sqlite:///{tmp_path / 'r.db'}", "REDIS_URL": dead, "OTEL_SDK_DISABLED": "true",
           "SECRET_KEY": "t", "MONITOR_COLLECT_INTERVAL_SECONDS": "1", "RQ_QUEUE": f"dead-{uuid.uuid4().hex[:8]}"}
    with open(tmp_path / "sched.log", "w") as log:
        proc = subprocess.Popen([FLASK, "--app", "app", "jobs", "scheduler"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_for(lambda: (tmp_path / "sched.log").read_text().count("could not enqueue collect") >= 2, 30)
        assert proc.poll() is None, (tmp_path / "sched.log").read_text()  # retrying, not crashed
    finally:
        proc.kill()
        proc.wait()
