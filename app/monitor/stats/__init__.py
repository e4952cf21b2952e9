"""Monitoring statistics: pure functions over a SQLAlchemy session, SQL aggregates only.

Each module takes (session, now, settings) — `settings` is any mapping with the
app's configuration keys — and returns plain dicts. Definitions: docs/metrics.md.
"""
