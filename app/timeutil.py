"""UTC instants: one column type and one clock for the whole service."""
from datetime import datetime, timezone

from sqlalchemy import DateTime
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current instant, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


def to_utc(value: datetime) -> datetime:
    """An aware datetime in UTC; a naive one is taken to be UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def isoformat_z(value: datetime | None) -> str | None:
    """`2024-03-11T07:30:00Z` style, the format every API response uses."""
    if value is None:
        return None
    return to_utc(value).isoformat().replace("+00:00", "Z")


class UTCDateTime(TypeDecorator):
    """Stores instants in UTC and always returns aware UTC datetimes.

    PostgreSQL gets `timestamptz`. SQLite has no time zone type, so the value is
    normalised to UTC and stored without offset in one fixed format, which makes
    string comparison in SQL equal to comparison of instants.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = to_utc(value)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return to_utc(value)
