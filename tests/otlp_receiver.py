"""A tiny OTLP/HTTP receiver for tests: POST /v1/traces and /v1/metrics, decoded with opentelemetry-proto."""
import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

_KINDS = {
    "/v1/traces": (ExportTraceServiceRequest, ExportTraceServiceResponse),
    "/v1/metrics": (ExportMetricsServiceRequest, ExportMetricsServiceResponse),
}


class OTLPReceiver:
    """Collects decoded export requests; `endpoint` is what OTEL_EXPORTER_OTLP_ENDPOINT takes."""

    def __init__(self):
        self.traces = []    # ExportTraceServiceRequest
        self.metrics = []   # ExportMetricsServiceRequest
        self.errors = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                kinds = _KINDS.get(self.path)
                if kinds is None:
                    self.send_error(404)
                    return
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                request_type, response_type = kinds
                message = request_type()
                try:
                    message.ParseFromString(body)
                except Exception as exc:  # recorded for the test to report
                    receiver.errors.append(f"{self.path}: {exc}")
                    self.send_error(400)
                    return
                with receiver._lock:
                    (receiver.traces if self.path == "/v1/traces" else receiver.metrics).append(message)
                payload = response_type().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()

    def spans(self) -> list[dict]:
        """Every received span as a dict: name, kind, trace_id, span_id, parent_span_id (hex), attributes, resource."""
        out = []
        with self._lock:
            requests = list(self.traces)
        for request in requests:
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        out.append({
                            "name": span.name,
                            "kind": span.kind,
                            "trace_id": span.trace_id.hex(),
                            "span_id": span.span_id.hex(),
                            "parent_span_id": span.parent_span_id.hex(),
                            "attributes": _attributes(span.attributes),
                            "resource": resource,
                        })
        return out

    def metric_names(self) -> set[str]:
        """Names of every metric received."""
        with self._lock:
            requests = list(self.metrics)
        return {metric.name
                for request in requests
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics}

    def metrics_named(self, name) -> list:
        """The received Metric messages called `name` (one per export)."""
        with self._lock:
            requests = list(self.metrics)
        return [metric
                for request in requests
                for resource_metrics in request.resource_metrics
                for scope_metrics in resource_metrics.scope_metrics
                for metric in scope_metrics.metrics if metric.name == name]

    def wait_for(self, predicate, timeout=10.0):
        """Poll until predicate() is truthy; returns its last value."""
        deadline = time.monotonic() + timeout
        value = predicate()
        while not value and time.monotonic() < deadline:
            time.sleep(0.05)
            value = predicate()
        return value


def _attributes(key_values) -> dict:
    out = {}
    for kv in key_values:
        value = kv.value
        field = value.WhichOneof("value")
        out[kv.key] = getattr(value, field) if field else None
    return out
