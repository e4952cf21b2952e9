"""The app under `gunicorn --preload -w 4 -c gunicorn.conf.py`: real processes, a real OTLP receiver.

Telemetry must be started in each worker after the fork (gunicorn.conf.py): every request is
traced, by at least two distinct worker processes; request counts summed over the workers equal
the requests sent; DB-derived business counters read the same from every worker and survive a
worker being killed; and a worker flushes what it holds when it exits.
"""
import concurrent.futures
import http.cookiejar
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from app import create_app
from app.extensions import db
from tests.factories import PASSWORD, Factory
from tests.otlp_receiver import OTLPReceiver
from tests.http_client import get as _get, post_json as _post_json

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).parent / "gunicorn"
WORKERS = 4
REQUESTS = 40
WARMUP = 12
DETAIL_ROUTE = "/api/books/<int:book_id>"
SPAN_KIND_SERVER = 2
COPIES = 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def database(tmp_path):
    """A fresh SQLite file with two books (COPIES copies) and one member: (url, book id, warm-up book id)."""
    url = f"sqlite:///{tmp_path / 'gunicorn.db'}"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "gunicorn-test", "REDIS_URL": None,
                      "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://",
                      "OTEL_SDK_DISABLED": True})
    with app.app_context():
        db.create_all()
        make = Factory()
        book_id = make.book("Dune", copies=COPIES).id
        warmup_id = make.book("Emma", copies=COPIES).id
        make.user("reader")
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()
    return url, book_id, warmup_id


class Gunicorn:
    """`gunicorn --preload -w 4 -c gunicorn.conf.py wsgi:app` on a free port."""

    def __init__(self, tmp_path, database_url, otlp_endpoint, **otel):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "REDIS_URL"))}
        env.update({
            "HOST": "127.0.0.1", "PORT": str(self.port), "WEB_CONCURRENCY": str(WORKERS),
            "DATABASE_URL": database_url, "SECRET_KEY": "gunicorn-test",
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
            "OTEL_TRACES_SAMPLER": "always_on",
            "OTEL_METRIC_EXPORT_INTERVAL": "2000",
            "OTEL_BSP_SCHEDULE_DELAY": "100",
            **otel,
        })
        self.log_path = tmp_path / "gunicorn.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [str(GUNICORN), "--preload", "-w", str(WORKERS), "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text()

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return sorted(int(pid) for pid in path.read_text().split()) if path.exists() else []

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"gunicorn exited:\n{self.log()}"
            if len(self.workers()) == WORKERS and _get(self.base + "/healthz")[0] == 200:
                # Every worker has loaded the app and started telemetry (post_worker_init).
                if self.log().count("Booting worker") >= WORKERS:
                    return
            time.sleep(0.1)
        pytest.fail(f"gunicorn not ready:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


@pytest.fixture
def receiver():
    with OTLPReceiver() as receiver:
        yield receiver


@pytest.fixture
def start_gunicorn(tmp_path, database, receiver):
    servers = []

    def start(**otel):
        server = Gunicorn(tmp_path, database[0], receiver.endpoint, **otel)
        servers.append(server)
        server.wait_ready()
        return server

    yield start
    for server in servers:
        server.stop()


def _timed_get(url):
    started = time.monotonic()
    status, _ = _get(url)
    return status, time.monotonic() - started


def _get_many(server, path, n, limit):
    """n GETs of `path`, 4 at a time; each must answer 200 within `limit` seconds."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(_timed_get, [f"{server.base}{path}"] * n))
    assert [status for status, _ in results] == [200] * n
    slow = [round(seconds, 3) for _, seconds in results if seconds >= limit]
    assert not slow, f"requests slower than {limit} s: {slow}"


def _send_detail_requests(server, database, n=REQUESTS):
    """WARMUP requests to the second book, then n to the first, each within a second.

    A worker's first request builds lazily made caches (SQL compilation, schemas) and takes a
    few hundred milliseconds, more on a loaded machine; the warm-up keeps that out of the bound.
    A worker that deadlocked after the fork would never answer at all.
    """
    _, book_id, warmup_id = database
    _get_many(server, f"/api/books/{warmup_id}", WARMUP, limit=10.0)
    _get_many(server, f"/api/books/{book_id}", n, limit=1.0)


def _server_spans(receiver, book_id=None):
    """SERVER spans of the detail route (of one book's path when book_id is given)."""
    spans = [s for s in receiver.spans() if s["kind"] == SPAN_KIND_SERVER and s["name"] == f"GET {DETAIL_ROUTE}"]
    if book_id is None:
        return spans
    path = f"/api/books/{book_id}"
    return [s for s in spans if path in (s["attributes"].get("url.path"), s["attributes"].get("http.target"))]


def _request_counts(receiver, route=DETAIL_ROUTE, status="200"):
    """{service.instance.id: latest cumulative count} of the request histogram for one route."""
    latest = {}
    for request in list(receiver.metrics):
        for resource_metrics in request.resource_metrics:
            resource = {kv.key: kv.value.string_value for kv in resource_metrics.resource.attributes}
            instance = resource["service.instance.id"]
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    if metric.name != "library_api_request_duration_seconds":
                        continue
                    for point in metric.histogram.data_points:
                        attrs = {kv.key: kv.value.string_value for kv in point.attributes}
                        if attrs.get("route") == route and attrs.get("status") == status:
                            if point.time_unix_nano >= latest.get(instance, (0, 0))[0]:
                                latest[instance] = (point.time_unix_nano, point.count)
    return {instance: count for instance, (_, count) in latest.items()}


def _metric_instances(receiver):
    """service.instance.id of every resource that exported metrics."""
    return {kv.value.string_value
            for request in list(receiver.metrics)
            for resource_metrics in request.resource_metrics
            for kv in resource_metrics.resource.attributes if kv.key == "service.instance.id"}


def _scrape(server):
    """One /metrics scrape (a new connection, so any worker may answer): (instance id, samples)."""
    status, body = _get(server.base + "/metrics")
    assert status == 200, body
    text = body.decode()
    instance = re.search(r'^target_info\{.*service_instance_id="([^"]+)"', text, flags=re.M).group(1)
    samples = {m.group(1): float(m.group(2))
               for m in re.finditer(r"^(library_\w+) ([0-9.e+-]+)$", text, flags=re.M)}
    return instance, samples


def _pid_of(instance_id: str) -> int:
    """service.instance.id is hostname-pid-random (app/telemetry/resource.py)."""
    return int(instance_id.rsplit("-", 2)[1])


def test_preloaded_workers_trace_and_count_every_request(start_gunicorn, database, receiver):
    server = start_gunicorn()
    workers = server.workers()
    # The master imported the app (--preload) but started no exporter or processor thread: it has
    # its main thread and gunicorn's control-socket thread; the SDK's span processor and metric
    # reader would add two more.
    assert len(os.listdir(f"/proc/{server.proc.pid}/task")) <= 2
    # Each worker runs its own span processor and metric reader threads (once post_worker_init ran).
    deadline = time.monotonic() + 15
    while not all(len(os.listdir(f"/proc/{pid}/task")) >= 3 for pid in workers):
        assert time.monotonic() < deadline, {pid: os.listdir(f"/proc/{pid}/task") for pid in workers}
        time.sleep(0.1)
    _send_detail_requests(server, database)

    receiver.wait_for(lambda: len(_server_spans(receiver)) >= WARMUP + REQUESTS, timeout=20)
    time.sleep(0.5)  # anything beyond would be a duplicate span
    assert len(_server_spans(receiver)) == WARMUP + REQUESTS
    spans = _server_spans(receiver, database[1])
    assert len(spans) == REQUESTS
    assert len({s["trace_id"] for s in spans}) == REQUESTS
    instances = {s["resource"]["service.instance.id"] for s in spans}
    assert len(instances) >= 2, instances
    # Spans come from the workers, never from the master that preloaded the app.
    assert {_pid_of(i) for i in instances} <= set(workers)
    assert server.proc.pid not in {_pid_of(i) for i in instances}

    sent = WARMUP + REQUESTS
    counts = receiver.wait_for(lambda: (c := _request_counts(receiver)) and sum(c.values()) == sent and c,
                               timeout=20) or _request_counts(receiver)
    assert sum(counts.values()) == sent, counts
    # Nothing was exported by the master.
    assert server.proc.pid not in {_pid_of(i) for i in _metric_instances(receiver)}
    # One series per worker that served requests: exactly the instances that sent spans.
    all_instances = {s["resource"]["service.instance.id"] for s in _server_spans(receiver)}
    assert {i for i, n in counts.items() if n} == all_instances
    assert not receiver.errors


def test_business_counters_agree_across_workers_and_survive_a_killed_worker(start_gunicorn, database):
    server = start_gunicorn()
    book_id = database[1]
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    assert _post_json(opener, f"{server.base}/api/auth/login", {"username": "reader", "password": PASSWORD})[0] == 200
    status, loan = _post_json(opener, f"{server.base}/api/loans", {"book_id": book_id})
    assert status == 201, loan

    def scrape_until(condition, attempts=200):
        seen = {}
        for _ in range(attempts):
            instance, samples = _scrape(server)
            seen[instance] = samples
            if condition(seen):
                break
        return seen

    seen = scrape_until(lambda s: len(s) >= 3)
    assert len(seen) >= 2, "every scrape was answered by the same worker"
    for instance, samples in seen.items():
        assert samples["library_book_loans_total"] == 1, instance
        assert samples["library_user_logins_total"] == 1, instance
        assert samples["library_available_books_total"] == 2 * COPIES - 1, instance

    before_kill = set(server.workers())
    victim = min(before_kill)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while not (len(server.workers()) == WORKERS and victim not in server.workers()):
        assert time.monotonic() < deadline, f"no replacement worker:\n{server.log()}"
        time.sleep(0.1)
    (replacement,) = set(server.workers()) - before_kill

    after = scrape_until(lambda s: replacement in map(_pid_of, s))
    assert replacement in map(_pid_of, after), "the replacement worker never answered a scrape"
    for instance, samples in after.items():
        assert samples["library_book_loans_total"] == 1, instance
        assert samples["library_available_books_total"] == 2 * COPIES - 1, instance


def test_workers_flush_spans_and_metrics_when_they_exit(start_gunicorn, database, receiver):
    # Nothing is exported on a timer during the test: only worker_exit's shutdown() can deliver.
    server = start_gunicorn(OTEL_METRIC_EXPORT_INTERVAL="600000", OTEL_BSP_SCHEDULE_DELAY="600000")
    _send_detail_requests(server, database)
    time.sleep(1)
    assert _server_spans(receiver) == []

    server.stop()
    assert server.proc.returncode == 0, server.log()
    assert len(_server_spans(receiver, database[1])) == REQUESTS
    assert len(_server_spans(receiver)) == WARMUP + REQUESTS
    assert sum(_request_counts(receiver).values()) == WARMUP + REQUESTS
    assert not receiver.errors
