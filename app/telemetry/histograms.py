"""The request and statement histograms: cheap to record, exported by the SDK's metric readers.

Why not the SDK's own Histogram here: in opentelemetry-sdk 1.45 one `Histogram.record()` makes
about 57 Python calls (it copies and cleans the attribute dict, hashes it recursively once per
metric reader, asks the exemplar filter, offers the exemplar reservoir): about 64,000
instructions under callgrind, ~20 µs on the benchmark machine. A book-detail request records
five measurements (four statements and the request), and they were about a third of what the
telemetry cost per request (docs/deployment.md, "Where the overhead went").

A `HotHistogram` takes a label tuple the caller already has, finds the bucket with `bisect`
(the SDK's own rule: bucket i holds bounds[i-1] < value <= bounds[i]) and adds under one lock.
Its series reach both readers (/metrics and OTLP) as the very Metric / Histogram /
HistogramDataPoint objects the SDK would build: `HotMetricsReader` adds them to every collection.
They are cumulative, like every other instrument here; an exporter that asks for delta
histograms (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE) gets the SDK instruments instead
(`histograms_for`).

Exemplars: the last sampled measurement per bucket (trace and span id, value, time), as the
SDK's aligned-bucket reservoir keeps them; only callers that pass a sampled span context add one.
"""
import math
import threading
from bisect import bisect_left
from time import time_ns

from opentelemetry.sdk.metrics import Exemplar
from opentelemetry.sdk.metrics import Histogram as HistogramInstrument
from opentelemetry.sdk.metrics.export import (
    AggregationTemporality,
    Histogram,
    HistogramDataPoint,
    Metric,
    MetricsData,
    ResourceMetrics,
    ScopeMetrics,
)
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, set_span_in_context


class _Series:
    __slots__ = ("counts", "total", "count", "min", "max", "start", "exemplars")

    def __init__(self, buckets: int):
        self.counts = [0] * buckets
        self.total = 0.0
        self.count = 0
        self.min = math.inf
        self.max = -math.inf
        self.start = time_ns()
        self.exemplars = {}


class HotHistogram:
    """A cumulative explicit-bucket histogram keyed by a tuple of label values."""

    def __init__(self, name: str, unit: str, description: str, boundaries, label_names):
        self.name = name
        self.unit = unit
        self.description = description
        self.boundaries = tuple(float(b) for b in boundaries)
        self.label_names = tuple(label_names)
        self._series = {}
        self._lock = threading.Lock()

    def record(self, value: float, labels: tuple, span_context=None) -> None:
        """Add one measurement; `span_context` (of a sampled span) makes it its bucket's exemplar."""
        index = bisect_left(self.boundaries, value)
        with self._lock:
            series = self._series.get(labels)
            if series is None:
                series = self._series[labels] = _Series(len(self.boundaries) + 1)
            series.counts[index] += 1
            series.total += value
            series.count += 1
            if value < series.min:
                series.min = value
            if value > series.max:
                series.max = value
            if span_context is not None:
                series.exemplars[index] = (value, time_ns(), span_context.span_id, span_context.trace_id)

    def metric(self, now_ns: int) -> Metric | None:
        """The SDK Metric for a collection at `now_ns` (None before the first measurement)."""
        with self._lock:
            points = [
                HistogramDataPoint(
                    attributes=dict(zip(self.label_names, labels)),
                    start_time_unix_nano=series.start,
                    time_unix_nano=now_ns,
                    count=series.count,
                    sum=series.total,
                    bucket_counts=list(series.counts),
                    explicit_bounds=self.boundaries,
                    min=series.min,
                    max=series.max,
                    exemplars=[Exemplar({}, value, at, span_id, trace_id)
                               for value, at, span_id, trace_id in series.exemplars.values()],
                )
                for labels, series in self._series.items()
            ]
        if not points:
            return None
        return Metric(name=self.name, description=self.description, unit=self.unit,
                      data=Histogram(data_points=points,
                                     aggregation_temporality=AggregationTemporality.CUMULATIVE))


class SdkHistogram:
    """The same `record(value, labels, span_context)` on an SDK Histogram (delta exporters)."""

    def __init__(self, instrument, label_names):
        self._instrument = instrument
        self._label_names = tuple(label_names)
        self._attributes = {}  # labels -> attribute dict, bounded like the series

    def record(self, value: float, labels: tuple, span_context=None) -> None:
        attributes = self._attributes.get(labels)
        if attributes is None:
            attributes = self._attributes[labels] = dict(zip(self._label_names, labels))
        context = set_span_in_context(NonRecordingSpan(span_context)) if span_context is not None else None
        self._instrument.record(value, attributes, context=context)


class HotMetrics:
    """The hot histograms of one MeterProvider, added to each of its readers' collections."""

    def __init__(self, resource, scope_name: str):
        self._resource = resource
        self._scope = InstrumentationScope(scope_name)
        self.histograms = []

    def add(self, histogram: HotHistogram) -> HotHistogram:
        self.histograms.append(histogram)
        return histogram

    def extend(self, metrics_data: MetricsData | None) -> MetricsData | None:
        """`metrics_data` with the hot histograms added to this meter's scope."""
        now = time_ns()
        extra = [m for m in (h.metric(now) for h in self.histograms) if m is not None]
        if not extra:
            return metrics_data
        if metrics_data is None or not metrics_data.resource_metrics:
            return MetricsData([ResourceMetrics(self._resource, [ScopeMetrics(self._scope, extra, "")], "")])
        first, *others = metrics_data.resource_metrics
        scopes = list(first.scope_metrics)
        for i, scope_metrics in enumerate(scopes):
            if scope_metrics.scope.name == self._scope.name:
                scopes[i] = ScopeMetrics(scope_metrics.scope, [*scope_metrics.metrics, *extra],
                                         scope_metrics.schema_url)
                break
        else:
            scopes.append(ScopeMetrics(self._scope, extra, ""))
        return MetricsData([ResourceMetrics(first.resource, scopes, first.schema_url), *others])


class HotMetricsReader:
    """Mixin for a MetricReader: every collection also carries `hot_metrics` (set before use)."""

    hot_metrics: HotMetrics | None = None

    def _set_collect_callback(self, func) -> None:
        # The MeterProvider hands each reader the function that collects its instruments;
        # wrapping it is the one place both readers (pull and push) pass through.
        def collect(reader, timeout_millis: float = 10_000):
            data = func(reader, timeout_millis=timeout_millis)
            return self.hot_metrics.extend(data) if self.hot_metrics is not None else data

        super()._set_collect_callback(collect)

    def wants_delta_histograms(self) -> bool:
        # Keyed by the SDK's concrete instrument classes (_Histogram is a Histogram).
        temporality = getattr(self, "_instrument_class_temporality", {})
        return any(issubclass(kind, HistogramInstrument) and chosen == AggregationTemporality.DELTA
                   for kind, chosen in temporality.items())
