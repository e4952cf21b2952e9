"""`flask monitor check`: self-test of the monitoring against independent recounts."""
from .cli import monitor_cli  # noqa: F401
