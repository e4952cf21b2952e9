"""A real Prometheus scrapes the app's /metrics; its HTTP API returns the true counts.

The app is served by a real HTTP server (werkzeug, in a thread) on a fresh SQLite file; the
`prometheus` binary (Debian package, installed by .ci/run) runs on a free port with a generated
configuration scraping it every second. Skipped only on a machine without the binary outside CI.
"""
import http.cookiejar
import json
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request

import pytest
import yaml
from werkzeug.serving import make_server

from app import create_app
from app.extensions import db
from tests.factories import PASSWORD, Factory
from tests.conftest import required_binary
from tests.http_client import get as _get, post_json as _post_json

BOOK_REQUESTS = 25
DETAIL_ROUTE = "/api/books/<int:book_id>"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _prometheus_binary() -> str:
    return required_binary("prometheus", "prometheus")


@pytest.fixture
def served_app(tmp_path):
    """The app on a fresh SQLite file behind a threaded werkzeug server: (base_url, book ids)."""
    app = create_app({
        "SECRET_KEY": "scrape-test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'scrape.db'}",
        "REDIS_URL": None,
        "CACHE_TYPE": "SimpleCache",
        "RATELIMIT_STORAGE_URI": "memory://",
        "OTEL_EXPORTER_OTLP_ENDPOINT": None,
    })
    with app.app_context():
        db.create_all()
        make = Factory()
        first = make.book("Dune", copies=3).id
        second = make.book("Emma", copies=2).id
        make.user("reader")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", (first, second)
    server.shutdown()
    thread.join(10)
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.fixture
def prometheus(tmp_path, served_app):
    """A real Prometheus scraping the served app every second; yields its base URL."""
    binary = _prometheus_binary()
    app_url = urllib.parse.urlsplit(served_app[0])
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{
            "job_name": "library-service",
            "metrics_path": "/metrics",
            "static_configs": [{"targets": [app_url.netloc]}],
        }],
    }
    config_path = tmp_path / "prometheus.yml"
    config_path.write_text(yaml.safe_dump(config))
    port = _free_port()
    log = open(tmp_path / "prometheus.log", "w")
    proc = subprocess.Popen(
        [binary, f"--config.file={config_path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until(lambda: _get(base + "/-/ready")[0] == 200, 30, "Prometheus did not become ready")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _wait_until(check, timeout, message):
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(message)
        time.sleep(0.25)


def _query(prometheus_url, promql):
    """The instant value of `promql` (a single-element vector) or None when it is empty."""
    status, body = _get(f"{prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": promql}))
    assert status == 200, body
    result = json.loads(body)["data"]["result"]
    assert len(result) <= 1, result
    return float(result[0]["value"][1]) if result else None


def _settled(prometheus_url, promql, expected, timeout=30):
    """Poll until Prometheus has scraped `expected` (or time out), then return the last value."""
    value = None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = _query(prometheus_url, promql)
        if value == expected:
            break
        time.sleep(0.5)
    return value


def test_prometheus_reads_request_count_and_business_values(served_app, prometheus):
    base, (first, second) = served_app
    _wait_until(lambda: _query(prometheus, 'up{job="library-service"}') == 1, 30,
                "Prometheus never scraped the app successfully")

    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    for i in range(BOOK_REQUESTS):
        status, _ = _get(f"{base}/api/books/{first if i % 2 else second}", opener)
        assert status == 200
    assert _get(f"{base}/api/books/999999", opener)[0] == 404
    assert _post_json(opener, f"{base}/api/auth/login", {"username": "reader", "password": PASSWORD})[0] == 200
    status, loan = _post_json(opener, f"{base}/api/loans", {"book_id": first})
    assert status == 201, loan

    detail_ok = (f'sum(library_api_request_duration_seconds_count{{route="{DETAIL_ROUTE}", '
                 f'method="GET", status="200"}})')
    assert _settled(prometheus, detail_ok, BOOK_REQUESTS) == BOOK_REQUESTS
    detail_404 = f'sum(library_api_request_duration_seconds_count{{route="{DETAIL_ROUTE}", status="404"}})'
    assert _settled(prometheus, detail_404, 1) == 1
    loans = _settled(prometheus, 'library_book_loans_total{job="library-service"}', 1)
    assert loans == 1
    assert _settled(prometheus, 'library_available_books_total{job="library-service"}', 4) == 4  # 3 + 2 - 1
    assert _settled(prometheus, 'library_user_logins_total{job="library-service"}', 1) == 1
    # The scrapes themselves are not request telemetry (/metrics is excluded by default).
    assert _query(prometheus, 'sum(library_api_request_duration_seconds_count{route="/metrics"})') is None
