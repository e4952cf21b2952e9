"""/metrics: the SDK's Prometheus reader, per-app registry, OpenMetrics exemplars."""
import logging
from bisect import bisect_left

from flask import Response, current_app, request
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics.export import Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.samples import Exemplar

from ..extensions import db
from .histograms import HotMetricsReader

log = logging.getLogger(__name__)


def _series_key(attributes) -> frozenset:
    return frozenset((str(k), str(v)) for k, v in (attributes or {}).items())


def _index_exemplars(metrics_data) -> dict:
    """{(metric name, series key): {le label: exemplar}} for histograms that carry exemplars."""
    index = {}
    for resource_metrics in metrics_data.resource_metrics:
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                if not isinstance(metric.data, Histogram):
                    continue
                for point in metric.data.data_points:
                    if not point.exemplars:
                        continue
                    bounds = list(point.explicit_bounds)
                    by_bucket = {}
                    for exemplar in point.exemplars:
                        if not exemplar.trace_id:
                            continue
                        i = bisect_left(bounds, exemplar.value)
                        le = f"{bounds[i]}" if i < len(bounds) else "+Inf"
                        by_bucket[le] = Exemplar(
                            {"trace_id": format(exemplar.trace_id, "032x"),
                             "span_id": format(exemplar.span_id, "016x")},
                            exemplar.value, exemplar.time_unix_nano / 1e9)
                    if by_bucket:
                        index[(metric.name, _series_key(point.attributes))] = by_bucket
    return index


class ExemplarPrometheusReader(HotMetricsReader, PrometheusMetricReader):
    """The SDK's Prometheus reader, remembering each collection's histogram exemplars.

    It also adds the hot histograms to each collection (HotMetricsReader).

    opentelemetry-exporter-prometheus drops exemplars when it builds the
    prometheus_client families; ExemplarCollector puts them back on the bucket
    samples, where the OpenMetrics format can carry them.
    """

    def __init__(self, registry):
        # Scope labels (otel_scope_*) on every series add nothing for one service.
        super().__init__(scope_info_enabled=False, registry=registry)
        self.exemplars = {}

    def _receive_metrics(self, metrics_data, timeout_millis: float = 10_000, **kwargs) -> None:
        if metrics_data is not None:
            try:
                self.exemplars = _index_exemplars(metrics_data)
            except Exception:
                log.exception("telemetry: could not index exemplars")
                self.exemplars = {}
        super()._receive_metrics(metrics_data, timeout_millis, **kwargs)


class ExemplarCollector:
    """A prometheus_client collector over the reader's registry that adds exemplars."""

    def __init__(self, inner_registry, reader):
        self._inner = inner_registry
        self._reader = reader

    def collect(self):
        for family in self._inner.collect():
            if family.type == "histogram" and self._reader.exemplars:
                self._attach(family)
            yield family

    def _attach(self, family):
        exemplars = self._reader.exemplars
        bucket_name = family.name + "_bucket"
        samples = []
        for sample in family.samples:
            if sample.name == bucket_name:
                labels = dict(sample.labels)
                le = labels.pop("le", None)
                found = exemplars.get((family.name, _series_key(labels)), {}).get(le)
                if found is not None:
                    sample = sample._replace(exemplar=found)
            samples.append(sample)
        family.samples = samples


def metrics_view():
    """Prometheus text format, or OpenMetrics (with exemplars) when the scraper asks for it."""
    state = current_app.extensions.get("telemetry")
    providers = getattr(state, "providers", None)
    if providers is None:
        return Response("telemetry is not running in this process\n", status=404, mimetype="text/plain")
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    # The SDK runs one collection at a time (another scrape or the OTLP reader's
    # thread may be collecting), and on SQLite an open transaction holds the write
    # lock. Queueing for the collection with a transaction open (a logged-in user
    # was loaded in one) deadlocks with a collection reading the database until the
    # busy timeout. A GET has nothing to keep.
    db.session.rollback()
    try:
        body = encoder(providers.registry)
    except Exception:  # e.g. the SDK's collection timeout: say so, and let Prometheus mark the scrape failed
        log.exception("telemetry: /metrics collection failed")
        return Response("metrics collection failed; see the service log\n", status=503, mimetype="text/plain")
    finally:
        db.session.rollback()  # what the callbacks read through this session: nothing is held after
    return Response(body, headers={"Content-Type": content_type})
