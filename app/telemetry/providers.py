"""Per-app TracerProvider and MeterProvider (never the global ones), with their exporters."""
import logging
from dataclasses import dataclass, field

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CollectorRegistry

from . import metrics
from .exposition import ExemplarCollector, ExemplarPrometheusReader
from .histograms import HotMetrics, HotMetricsReader

log = logging.getLogger(__name__)


@dataclass
class Providers:
    """What one app's telemetry owns; kept in app.extensions["telemetry"].providers."""

    tracer_provider: TracerProvider
    meter_provider: MeterProvider
    registry: CollectorRegistry
    # The request and statement histograms (histograms.py); None when an exporter wants
    # delta histograms, which the SDK's own instruments then provide.
    hot_metrics: HotMetrics | None = None
    otlp: bool = False
    shut_down: bool = field(default=False)

    def force_flush(self, timeout_millis: int = 10_000) -> bool:
        """Export whatever is pending (spans in the batch processor, metrics to OTLP)."""
        ok = self.tracer_provider.force_flush(timeout_millis)
        return self.meter_provider.force_flush(timeout_millis) and ok

    def shutdown(self) -> None:
        """Flush and stop exporters; idempotent."""
        if self.shut_down:
            return
        self.shut_down = True
        for provider in (self.tracer_provider, self.meter_provider):
            try:
                provider.shutdown()
            except Exception:  # a dead collector must not break worker exit
                log.exception("telemetry: %s shutdown failed", type(provider).__name__)


class HotPeriodicReader(HotMetricsReader, PeriodicExportingMetricReader):
    """The SDK's periodic (OTLP) reader, also exporting the hot histograms."""


def _otlp_exporters(settings):
    """(span exporter, metric exporter) for the configured protocol.

    The exporters read headers, timeout, compression and certificates from the
    standard OTEL_EXPORTER_OTLP_* variables themselves.
    """
    endpoint = settings.otlp_endpoint.rstrip("/")
    if settings.otlp_protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter(endpoint=endpoint), OTLPMetricExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    from .span_export import EncodingOTLPSpanExporter

    return (EncodingOTLPSpanExporter(endpoint=f"{endpoint}/v1/traces"),
            OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics"))


def build_providers(settings, resource, *, shutdown_on_exit: bool) -> Providers:
    """Providers for one app: /metrics always, OTLP only when an endpoint is configured."""
    tracer_provider = TracerProvider(resource=resource, sampler=settings.sampler(),
                                     shutdown_on_exit=shutdown_on_exit)
    # Each app gets its own prometheus_client registry, so many apps in one process
    # (tests) never see each other's series and the global REGISTRY stays untouched.
    inner = CollectorRegistry(auto_describe=False)
    prometheus_reader = ExemplarPrometheusReader(registry=inner)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ExemplarCollector(inner, prometheus_reader))
    readers = [prometheus_reader]
    otlp = bool(settings.otlp_endpoint)
    if otlp:
        span_exporter, metric_exporter = _otlp_exporters(settings)
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        # Interval from OTEL_METRIC_EXPORT_INTERVAL (SDK default 60 s).
        readers.append(HotPeriodicReader(metric_exporter))
    hot_metrics = None
    if not any(reader.wants_delta_histograms() for reader in readers):
        hot_metrics = HotMetrics(resource, metrics.METER_NAME)
        for reader in readers:
            reader.hot_metrics = hot_metrics
    meter_provider = MeterProvider(metric_readers=readers, resource=resource, views=metrics.views(),
                                   shutdown_on_exit=shutdown_on_exit)
    return Providers(tracer_provider, meter_provider, registry, hot_metrics=hot_metrics, otlp=otlp)
