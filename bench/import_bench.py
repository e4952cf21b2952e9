"""Benchmark of `flask library import` on the whole data/goodbooks-10k set.

Imports into a fresh temporary SQLite database and, when reachable, into a
fresh schema of PostgreSQL (PG_BENCH_URL, default the local `test` database),
and prints the wall time of each stage and the total.

    .venv/bin/python bench/import_bench.py [--runs N] [--no-postgres]
"""
import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from app.extensions import db  # noqa: E402
from app.library.importer import run_import  # noqa: E402

DATA = ROOT / "data" / "goodbooks-10k"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def bench(url):
    """One import into an empty database at `url`; returns (stage seconds, wall seconds, counts)."""
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "REDIS_URL": None, "CACHE_TYPE": "SimpleCache",
                      "RATELIMIT_STORAGE_URI": "memory://", "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        db.create_all()
        started = time.perf_counter()
        result = run_import(DATA)
        wall = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return result.seconds, wall, result.counts


def report(name, runs, url_for_run):
    for run in range(runs):
        url, cleanup = url_for_run()
        try:
            seconds, wall, counts = bench(url)
        finally:
            cleanup()
        stages = "  ".join(f"{stage} {value:.2f}" for stage, value in seconds.items() if stage != "total")
        print(f"{name} run {run + 1}: total {wall:.2f} s  ({stages})")
    print(f"  rows: books {counts['books']}, members {counts['members']}, loans {counts['loans']}, "
          f"reservations {counts['reservations']}, book_authors {counts['book_authors']}")


def sqlite_url():
    folder = tempfile.TemporaryDirectory()
    return f"sqlite:///{folder.name}/bench.db", folder.cleanup


def postgres_url(base):
    def make():
        engine = sa.create_engine(base)
        schema = f"bench_{uuid.uuid4().hex[:10]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f"CREATE SCHEMA {schema}"))

        def drop():
            with engine.begin() as conn:
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            engine.dispose()

        return f"{base}?options=-csearch_path%3D{schema}", drop
    return make


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--pg-url", default=PG_URL)
    args = parser.parse_args()
    report("sqlite", args.runs, sqlite_url)
    if args.no_postgres:
        return
    try:
        sa.create_engine(args.pg_url).connect().close()
    except Exception as exc:
        print(f"postgresql: skipped, not reachable at {args.pg_url} ({exc.__class__.__name__})")
        return
    report("postgresql", args.runs, postgres_url(args.pg_url))


if __name__ == "__main__":
    main()
