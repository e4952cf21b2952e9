"""Silences: mute notifications of alerts matching a rule and/or a severity for a time."""
from datetime import datetime

from sqlalchemy import select

from ...timeutil import isoformat_z, to_utc
from ..models import Silence
from .rules import RULES

SEVERITIES = ("critical", "warning")


class SilenceError(ValueError):
    """Invalid silence; `field` names the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def create(session, *, rule, severity, starts_at: datetime, ends_at: datetime, created_by: str,
           comment: str, now: datetime) -> Silence:
    """Validate and store a silence (the caller commits)."""
    if rule is None and severity is None:
        raise SilenceError("rule", "a silence needs at least one matcher: rule or severity")
    if rule is not None and rule not in RULES:
        raise SilenceError("rule", f"unknown rule {rule!r}; known: {', '.join(sorted(RULES))}")
    if severity is not None and severity not in SEVERITIES:
        raise SilenceError("severity", f"severity must be one of {', '.join(SEVERITIES)}")
    starts_at, ends_at = to_utc(starts_at), to_utc(ends_at)
    if ends_at <= starts_at:
        raise SilenceError("ends_at", "ends_at must be after starts_at")
    if ends_at <= now:
        raise SilenceError("ends_at", "ends_at must be in the future")
    if not comment or not comment.strip():
        raise SilenceError("comment", "a comment is required")
    silence = Silence(rule=rule, severity=severity, starts_at=starts_at, ends_at=ends_at,
                      created_by=created_by, comment=comment.strip(), created_at=now)
    session.add(silence)
    session.flush()
    return silence


def state(silence: Silence, now: datetime) -> str:
    """pending (not started), active, or expired."""
    if silence.ends_at <= now:
        return "expired"
    return "active" if silence.starts_at <= now else "pending"


def active(session, now: datetime) -> list[Silence]:
    """Silences in force at `now`."""
    return list(session.execute(
        select(Silence).where(Silence.starts_at <= now, Silence.ends_at > now).order_by(Silence.id)).scalars())


def matches(silence: Silence, rule: str, severity: str) -> bool:
    """Every matcher the silence sets equals the alert's label."""
    return (silence.rule in (None, rule)) and (silence.severity in (None, severity))


def silenced(session, rule: str, severity: str, now: datetime) -> bool:
    """Whether an alert with these labels is muted at `now`."""
    return any(matches(s, rule, severity) for s in active(session, now))


def expire(session, silence_id: int, now: datetime) -> Silence | None:
    """End a silence now (kept for the record); None when there is no such silence."""
    silence = session.get(Silence, silence_id)
    if silence is None:
        return None
    if silence.ends_at > now:
        silence.ends_at = now
        if silence.starts_at > now:
            silence.starts_at = now
    return silence


def to_dict(silence: Silence, now: datetime) -> dict:
    return {
        "id": silence.id,
        "matchers": {"rule": silence.rule, "severity": silence.severity},
        "starts_at": isoformat_z(silence.starts_at),
        "ends_at": isoformat_z(silence.ends_at),
        "created_by": silence.created_by,
        "comment": silence.comment,
        "created_at": isoformat_z(silence.created_at),
        "state": state(silence, now),
    }
