"""The OpenTelemetry Resource describing this process."""
import os
import socket
import uuid

from opentelemetry.sdk.resources import OTELResourceDetector, Resource


def instance_id() -> str:
    """Unique per process: hostname, pid and a random suffix (a restarted worker is a new instance)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


class HashOnceResource(Resource):
    """A Resource that computes its hash once.

    The OTLP encoders group every exported span (and metric batch) by resource in a
    dict, and Resource.__hash__ JSON-dumps all attributes on every call: about 6 µs
    per span here (bench/overhead, docs/deployment.md). A Resource's attributes are
    immutable (BoundedAttributes(immutable=True)) and its schema URL is never
    reassigned, so the hash cannot change; equality is the SDK's own.
    """

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self._hash = super().__hash__()
            return self._hash


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
    merged = Resource.create(defaults).merge(OTELResourceDetector().detect())
    return HashOnceResource(merged.attributes, merged.schema_url)
