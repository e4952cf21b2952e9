"""Telemetry settings, taken from app.config (which app/config.py fills from OTEL_* variables)."""
from dataclasses import dataclass

from opentelemetry.sdk.trace import sampling

_SAMPLERS = {
    "always_on": lambda arg: sampling.ALWAYS_ON,
    "always_off": lambda arg: sampling.ALWAYS_OFF,
    "parentbased_always_on": lambda arg: sampling.DEFAULT_ON,
    "parentbased_always_off": lambda arg: sampling.DEFAULT_OFF,
    "traceidratio": lambda arg: sampling.TraceIdRatioBased(arg),
    "parentbased_traceidratio": lambda arg: sampling.ParentBasedTraceIdRatio(arg),
}


@dataclass(frozen=True)
class TelemetrySettings:
    """What the telemetry set-up needs, already validated."""

    enabled: bool
    service_name: str
    service_version: str
    environment: str
    otlp_endpoint: str | None
    otlp_protocol: str
    sampler_name: str
    sampler_arg: float
    excluded_urls: str
    defer_start: bool
    log_format: str
    log_level: str

    def sampler(self):
        """The SDK sampler named by OTEL_TRACES_SAMPLER (the specification's names)."""
        return _SAMPLERS[self.sampler_name](self.sampler_arg)


def _ratio(value) -> float:
    try:
        ratio = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"OTEL_TRACES_SAMPLER_ARG must be between 0 and 1, got {ratio}")
    return ratio


def from_config(config) -> TelemetrySettings:
    """Read and validate the telemetry keys of an app's config mapping."""
    sampler_name = str(config.get("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")).strip().lower()
    if sampler_name not in _SAMPLERS:
        raise ValueError(f"OTEL_TRACES_SAMPLER {sampler_name!r} is not one of {', '.join(sorted(_SAMPLERS))}")
    protocol = str(config.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")).strip().lower()
    if protocol not in ("http/protobuf", "grpc"):
        raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL must be http/protobuf or grpc, got {protocol!r}")
    log_format = str(config.get("LOG_FORMAT", "text")).strip().lower()
    if log_format not in ("text", "json"):
        raise ValueError(f"LOG_FORMAT must be text or json, got {log_format!r}")
    return TelemetrySettings(
        enabled=not config.get("OTEL_SDK_DISABLED", False),
        service_name=config.get("OTEL_SERVICE_NAME") or "library-service",
        service_version=config.get("SERVICE_VERSION") or "1.0.0",
        environment=config.get("DEPLOYMENT_ENVIRONMENT") or "production",
        otlp_endpoint=config.get("OTEL_EXPORTER_OTLP_ENDPOINT") or None,
        otlp_protocol=protocol,
        sampler_name=sampler_name,
        sampler_arg=_ratio(config.get("OTEL_TRACES_SAMPLER_ARG", "1.0") or "1.0"),
        # Empty entries would become an empty regex alternative, which matches every URL.
        excluded_urls=",".join(u.strip() for u in str(config.get("TELEMETRY_EXCLUDED_URLS") or "").split(",")
                               if u.strip()),
        defer_start=bool(config.get("TELEMETRY_DEFER_START", False)),
        log_format=log_format,
        log_level=str(config.get("LOG_LEVEL", "INFO")).upper(),
    )
