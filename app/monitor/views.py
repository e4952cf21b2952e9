"""Admin-only monitoring endpoints under /api/analytics/monitor/."""
from .blueprint import bp  # noqa: F401
