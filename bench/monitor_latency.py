"""Latency of the five monitoring endpoints on the imported goodbooks-10k data.

Builds a fresh temporary SQLite database (or uses --database-url, e.g. a fresh
PostgreSQL schema), runs the real CLI (`flask db upgrade`, `flask library import
data/goodbooks-10k`, `flask create-admin` with a random password), logs in
through the JSON API and times each endpoint in-process (Flask test client, no
network): N requests with `Cache-Control: no-cache` (computed now) and N served
from the response cache. Prints p50/p95/max in milliseconds.

    .venv/bin/python bench/monitor_latency.py [--requests 50] [--database-url URL] [--keep]
"""
import argparse
import math
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

AREAS = ("system", "users", "books", "loans", "analytics")
FLASK = str(ROOT / ".venv" / "bin" / "flask")


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def prepare(url, password):
    """Migrate, import and ensure an admin through the real CLI; returns the import's wall seconds."""
    env = {**os.environ, "FLASK_APP": "app", "DATABASE_URL": url, "SECRET_KEY": "bench",
           "ADMIN_USERNAME": "bench_admin", "ADMIN_PASSWORD": password}
    env.pop("REDIS_URL", None)

    def flask(*args):
        subprocess.run([FLASK, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)

    flask("db", "upgrade")
    started = time.perf_counter()
    flask("library", "import", "data/goodbooks-10k", "--no-progress")
    seconds = time.perf_counter() - started
    flask("create-admin")
    return seconds


def measure(url, password, requests):
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "REDIS_URL": None,
                      "CACHE_TYPE": "SimpleCache", "RATELIMIT_STORAGE_URI": "memory://"})
    client = app.test_client()
    response = client.post("/api/auth/login", json={"username": "bench_admin", "password": password})
    assert response.status_code == 200, response.get_data(as_text=True)
    rows = []
    for area in AREAS:
        path = f"/api/analytics/monitor/{area}/"
        for mode, headers in (("no-cache", {"Cache-Control": "no-cache"}), ("cached", {})):
            client.get(path, headers=headers)  # warm-up (and fills the cache for "cached")
            times = []
            for _ in range(requests):
                started = time.perf_counter()
                response = client.get(path, headers=headers)
                times.append((time.perf_counter() - started) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                expected = "miss" if mode == "no-cache" else "hit"
                assert response.headers["X-Monitor-Cache"] == expected, (path, mode)
            rows.append((path, mode, percentile(times, 0.5), percentile(times, 0.95), max(times)))
    books = client.get("/api/analytics/monitor/books/").get_json()["overview"]
    loans = client.get("/api/analytics/monitor/loans/").get_json()["overview"]
    users = client.get("/api/analytics/monitor/users/").get_json()["overview"]
    return rows, {"books": books, "loans": loans, "users": users}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary database and print its path")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="monitor-bench-")
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    password = secrets.token_urlsafe(18)
    import_seconds = prepare(url, password)
    rows, overviews = measure(url, password, args.requests)

    print(f"database: {url.split('://')[0]}; import {import_seconds:.1f} s; "
          f"{args.requests} requests per endpoint and mode, in-process (no network)")
    print(f"data: {overviews['books']['total_books']} copies, {overviews['users']['total_users']} users, "
          f"{overviews['loans']['total_loans']} loans ({overviews['loans']['active_loans']} active)")
    print(f"{'endpoint':40} {'mode':9} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for path, mode, p50, p95, top in rows:
        print(f"{path:40} {mode:9} {p50:8.1f} {p95:8.1f} {top:8.1f}")
    if args.keep:
        print(f"kept: {url}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
