"""Threshold rules: the healthy/warning/critical bands at their exact edges."""
import pytest

from app.monitor import status

BELOW = status.RULES_BY_NAME["overdue_rate"]
ABOVE = status.RULES_BY_NAME["book_availability"]


@pytest.mark.parametrize("value, expected", [
    (None, "healthy"), (0.0, "healthy"), (7.99, "healthy"), (8.0, "warning"), (9.99, "warning"),
    (10.0, "critical"), (55.0, "critical"),
])
def test_must_stay_below(value, expected):
    assert status.level(BELOW, value, 10.0) == expected


@pytest.mark.parametrize("value, expected", [
    (None, "healthy"), (100.0, "healthy"), (25.01, "healthy"), (25.0, "warning"), (20.01, "warning"),
    (20.0, "critical"), (0.0, "critical"),
])
def test_must_stay_above(value, expected):
    assert status.level(ABOVE, value, 20.0) == expected


def test_evaluate_filters_by_area_and_orders_critical_first():
    settings = {"ALERT_ERROR_RATE_PERCENT": 5.0, "ALERT_RESPONSE_TIME_MS": 1000,
                "ALERT_BOOK_AVAILABILITY_PERCENT": 20.0, "ALERT_OVERDUE_RATE_PERCENT": 10.0}
    inputs = {"error_rate": None, "response_time": 900.0, "book_availability": 10.0, "overdue_rate": 1.0}
    alerts = status.evaluate(inputs, settings)
    assert [(a["rule"], a["severity"]) for a in alerts] == [("book_availability", "critical"),
                                                            ("response_time", "warning")]
    assert alerts[0]["message"] == "Book availability 10.0% is at or below the threshold 20.0%"
    assert status.evaluate(inputs, settings, "loans") == []
    assert [a["rule"] for a in status.evaluate(inputs, settings, "system")] == ["response_time"]


def test_worst():
    assert status.worst() == "healthy"
    assert status.worst("healthy", "warning") == "warning"
    assert status.worst("warning", "critical", "healthy") == "critical"
