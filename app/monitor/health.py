"""Liveness (/healthz) and readiness (/readyz)."""
from .blueprint import bp  # noqa: F401
