"""OpenTelemetry set-up: providers, instrumentation, /metrics."""


def init_app(app):
    """Set up telemetry for this app (filled in by the telemetry module)."""
