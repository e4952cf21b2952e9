"""The OpenTelemetry Resource describing this process."""
import os
import socket
import uuid

from opentelemetry.sdk.resources import OTELResourceDetector, Resource


def instance_id() -> str:
    """Unique per process: hostname, pid and a random suffix (a restarted worker is a new instance)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def build_resource(settings) -> Resource:
    """service.name/version, deployment.environment and service.instance.id.

    OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (read by the SDK's own detector)
    win over the defaults here, as the specification asks.
    """
    defaults = {
        "service.name": settings.service_name,
        "service.version": settings.service_version,
        "deployment.environment": settings.environment,
        "service.instance.id": instance_id(),
    }
    return Resource.create(defaults).merge(OTELResourceDetector().detect())
