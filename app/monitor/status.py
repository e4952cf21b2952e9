"""Threshold rules → healthy / warning / critical, and the alerts they raise now.

For a "must stay below" threshold T (error rate, overdue rate, response time):
critical when value >= T, warning when value >= 0.8·T, else healthy.
For a "must stay above" threshold T (book availability):
critical when value <= T, warning when value <= 1.25·T, else healthy.
A rule whose input is None (nothing measured) is not evaluated.
"""
from dataclasses import dataclass

HEALTHY, WARNING, CRITICAL = "healthy", "warning", "critical"
_ORDER = {HEALTHY: 0, WARNING: 1, CRITICAL: 2}

BELOW, ABOVE = "below", "above"
WARNING_FRACTION_BELOW = 0.8
WARNING_FACTOR_ABOVE = 1.25


@dataclass(frozen=True)
class Rule:
    name: str
    area: str          # the endpoint whose `alerts` list shows it: system, books, loans
    setting: str       # the config key holding the threshold
    direction: str     # BELOW: the value must stay below the threshold; ABOVE: above it
    unit: str
    label: str


RULES = (
    Rule("error_rate", "system", "ALERT_ERROR_RATE_PERCENT", BELOW, "%", "Error rate"),
    Rule("response_time", "system", "ALERT_RESPONSE_TIME_MS", BELOW, "ms", "Average API response time"),
    Rule("book_availability", "books", "ALERT_BOOK_AVAILABILITY_PERCENT", ABOVE, "%", "Book availability"),
    Rule("overdue_rate", "loans", "ALERT_OVERDUE_RATE_PERCENT", BELOW, "%", "Overdue rate"),
)
RULES_BY_NAME = {rule.name: rule for rule in RULES}


def level(rule: Rule, value, threshold) -> str:
    """The severity of `value` against `threshold` under `rule`'s direction."""
    if value is None:
        return HEALTHY
    if rule.direction == BELOW:
        if value >= threshold:
            return CRITICAL
        return WARNING if value >= WARNING_FRACTION_BELOW * threshold else HEALTHY
    if value <= threshold:
        return CRITICAL
    return WARNING if value <= WARNING_FACTOR_ABOVE * threshold else HEALTHY


def warning_bound(rule: Rule, threshold) -> float:
    """Where the warning band starts for `rule` at `threshold`."""
    factor = WARNING_FRACTION_BELOW if rule.direction == BELOW else WARNING_FACTOR_ABOVE
    return round(factor * threshold, 2)


def rule_status(name: str, value, settings) -> str:
    """healthy/warning/critical for one rule's current input."""
    rule = RULES_BY_NAME[name]
    return level(rule, value, settings[rule.setting])


def worst(*levels: str) -> str:
    """The most severe of the given levels (healthy when none)."""
    return max(levels, key=_ORDER.__getitem__, default=HEALTHY)


def evaluate(inputs: dict, settings, area: str | None = None) -> list[dict]:
    """The rules (of `area`, or all) whose input is warning or critical now.

    `inputs` maps rule name → current value (None = not measured, not evaluated).
    Each alert: {rule, severity, value, threshold, message}; critical first.
    """
    alerts = []
    for rule in RULES:
        if area is not None and rule.area != area:
            continue
        value = inputs.get(rule.name)
        threshold = settings[rule.setting]
        severity = level(rule, value, threshold)
        if severity == HEALTHY:
            continue
        if severity == CRITICAL:
            side = "above" if rule.direction == BELOW else "below"
            message = f"{rule.label} {value}{rule.unit} is at or {side} the threshold {threshold}{rule.unit}"
        else:
            message = (f"{rule.label} {value}{rule.unit} is near the threshold {threshold}{rule.unit}"
                       f" (warning from {warning_bound(rule, threshold)}{rule.unit})")
        alerts.append({
            "rule": rule.name,
            "severity": severity,
            "value": value,
            "threshold": threshold,
            "message": message,
        })
    alerts.sort(key=lambda alert: -_ORDER[alert["severity"]])
    return alerts
