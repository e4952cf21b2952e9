"""Small shared helpers for the statistics modules."""
from datetime import datetime, time, timezone

from sqlalchemy import case, func


def percent(part, whole) -> float:
    """part ÷ whole × 100, rounded to 2 decimals; 0.0 when whole is 0."""
    if not whole:
        return 0.0
    return round(float(part) * 100.0 / float(whole), 2)


def count_where(condition):
    """SUM(CASE WHEN condition THEN 1 ELSE 0 END): a portable filtered count."""
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def utc_midnight(now: datetime) -> datetime:
    """The start of `now`'s UTC day."""
    return datetime.combine(now.astimezone(timezone.utc).date(), time(0), tzinfo=timezone.utc)
