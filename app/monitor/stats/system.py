"""The system overview: the three headline overviews, health, performance, alerts, uptime."""
from datetime import datetime

from .. import status
from ..alerts import firing_critical
from .books import availability_input, books_overview
from .loans import loans_overview
from .users import users_overview


def rule_inputs(books: dict, loans: dict, response_times: dict, error_rate) -> dict:
    """The current input of every threshold rule (None = not measured → not evaluated)."""
    avg_api = response_times.get("avg_api_response")
    return {
        "error_rate": round(error_rate, 2) if error_rate is not None else None,
        "response_time": round(avg_api * 1000, 2) if avg_api is not None else None,
        "book_availability": availability_input(books),
        "overdue_rate": loans["overdue_rate"],
    }


def format_uptime(seconds: float) -> str:
    """`5d 12h 30m` style."""
    minutes = int(seconds) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    return f"{days}d {hours}h {minutes}m"


def _area_status(inputs, settings, area) -> str:
    return status.worst(*(alert["severity"] for alert in status.evaluate(inputs, settings, area)))


def system_stats(session, now: datetime, settings, *, health: dict, response_times: dict,
                 error_rate, started_at: datetime) -> dict:
    """The system endpoint's body without `timestamp`.

    `health` ({database, cache, overall} booleans), `response_times` and `error_rate`
    are measured by the caller; `started_at` is when this process's app started.
    """
    users = users_overview(session, now)
    books = books_overview(session)
    loans = loans_overview(session, now)
    inputs = rule_inputs(books, loans, response_times, error_rate)
    alerts = status.evaluate(inputs, settings)
    uptime_seconds = max(0.0, (now - started_at).total_seconds())
    return {
        "system_overview": {
            "users": {
                "total": users["total_users"],
                "active": users["active_users"],
                "activity_rate": users["activity_rate"],
                "status": _area_status(inputs, settings, "users"),
            },
            "books": {
                "total": books["total_books"],
                "available": books["available_books"],
                "availability_rate": books["availability_rate"],
                "status": _area_status(inputs, settings, "books"),
            },
            "loans": {
                "active": loans["active_loans"],
                "overdue": loans["overdue_loans"],
                "overdue_rate": loans["overdue_rate"],
                "status": _area_status(inputs, settings, "loans"),
            },
        },
        "health_status": health,
        "performance_overview": {
            "response_times": response_times,
            "error_rate_percent": inputs["error_rate"],
        },
        "status": status.worst(*(a["severity"] for a in alerts),
                               status.HEALTHY if health.get("overall") else status.CRITICAL),
        # Threshold rules critical now, then alerts the lifecycle has FIRING at critical severity.
        "critical_alerts": [alert for alert in alerts if alert["severity"] == status.CRITICAL]
        + firing_critical(session),
        "alerts": alerts,
        "uptime": format_uptime(uptime_seconds),
        "uptime_seconds": int(uptime_seconds),
    }
