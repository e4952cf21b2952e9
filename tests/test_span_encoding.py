"""Our span encoder writes the same OTLP message as the SDK's encode_spans; the exporter that uses it.

Each test encodes the same finished spans both ways, parses both byte strings as an
ExportTraceServiceRequest and compares the messages (the SDK's is the reference).
"""
import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import (Link, NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode, TraceFlags,
                                 TraceState, set_span_in_context)

from app import telemetry
from app.telemetry.span_encoding import SpanEncoder
from app.telemetry.span_export import EncodingOTLPSpanExporter
from tests.otlp_receiver import OTLPReceiver
from tests.test_request_measurement import make_app, traced_app


def parsed(data: bytes) -> ExportTraceServiceRequest:
    message = ExportTraceServiceRequest()
    message.ParseFromString(data)
    return message


def assert_same_encoding(spans, encoder=None):
    ours = (encoder or SpanEncoder()).encode_spans(spans)
    reference = encode_spans(spans).SerializePartialToString()
    assert parsed(ours) == parsed(reference)
    return parsed(ours)


def recording_provider(resource=None, limits=None):
    spans = InMemorySpanExporter()
    provider = TracerProvider(resource=resource or Resource.create({"service.name": "test"}),
                              span_limits=limits or SpanLimits())
    provider.add_span_processor(SimpleSpanProcessor(spans))
    return provider, spans


REMOTE_PARENT = SpanContext(trace_id=0x0AF7651916CD43DD8448EB211C80319C, span_id=0xB7AD6B7169203331,
                            is_remote=True, trace_flags=TraceFlags(1),
                            trace_state=TraceState([("vendor", "a1"), ("other", "b")]))


def test_the_apps_own_request_spans(tmp_path):
    app, spans = traced_app(tmp_path)
    client = app.test_client()
    assert client.get("/api/books/42").status_code == 200
    assert client.get("/api/books/999").status_code == 404
    assert client.get("/nowhere?x=1").status_code == 404
    finished = spans.get_finished_spans()
    assert {span.kind for span in finished} == {SpanKind.SERVER, SpanKind.CLIENT}
    message = assert_same_encoding(finished)
    encoded = [span for rs in message.resource_spans for ss in rs.scope_spans for span in ss.spans]
    assert len(encoded) == len(finished)
    assert "GET /api/books/<int:book_id>" in {span.name for span in encoded}


def test_every_attribute_type_events_links_status_and_remote_parent():
    provider, spans = recording_provider()
    tracer = provider.get_tracer("library.test", "1.2.3", schema_url="https://opentelemetry.io/schemas/1.21.0",
                                 attributes={"scope.flag": True})
    attributes = {
        "text": "Dune", "empty": "", "unicode": "Ελληνικά ✓ 📚", "long": "x" * 300,
        "yes": True, "no": False, "zero": 0, "int": 42, "negative": -7, "big": 2**63 - 1, "small": -(2**63),
        "float": 3.5, "negative_float": -0.25, "float_zero": 0.0,
        "strings": ["a", "", "ü"], "ints": [1, -2, 0], "floats": [1.5, 0.0], "bools": [True, False], "empty_list": [],
    }
    link_context = SpanContext(trace_id=1, span_id=2, is_remote=False, trace_flags=TraceFlags(0))
    with tracer.start_as_current_span("parent", kind=SpanKind.SERVER, context=set_span_in_context(
            NonRecordingSpan(REMOTE_PARENT)), attributes=attributes,
            links=[Link(link_context, {"link.kind": "follows"}), Link(REMOTE_PARENT)]) as parent:
        parent.add_event("cache miss", {"key": "book:42", "size": 3})
        parent.add_event("no attributes")
        with tracer.start_as_current_span("child", kind=SpanKind.CLIENT) as child:
            child.set_status(Status(StatusCode.ERROR, "database is locked"))
        for kind in (SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER):
            tracer.start_span(f"{kind.name.lower()} span", kind=kind).end()
        ok = tracer.start_span("ok")
        ok.set_status(Status(StatusCode.OK))
        ok.end()
        failed = tracer.start_span("error without a message")
        failed.set_status(Status(StatusCode.ERROR))
        failed.end()
    finished = spans.get_finished_spans()
    message = assert_same_encoding(finished)
    encoded = {span.name: span for span in message.resource_spans[0].scope_spans[0].spans}
    assert encoded["parent"].trace_state == "vendor=a1,other=b"
    assert encoded["child"].status.message == "database is locked"
    assert message.resource_spans[0].scope_spans[0].scope.version == "1.2.3"


def test_dropped_attributes_events_and_links_are_counted():
    limits = SpanLimits(max_span_attributes=2, max_events=1, max_links=1, max_event_attributes=1,
                        max_link_attributes=1)
    provider, spans = recording_provider(limits=limits)
    tracer = provider.get_tracer("limits")
    span = tracer.start_span("crowded", attributes={"a": 1, "b": 2, "c": 3},
                             links=[Link(REMOTE_PARENT, {"x": 1, "y": 2}), Link(REMOTE_PARENT)])
    span.add_event("first", {"p": 1, "q": 2})
    span.add_event("second")
    span.end()
    finished = spans.get_finished_spans()
    assert finished[0].dropped_attributes == 1 and finished[0].dropped_events == 1 and finished[0].dropped_links == 1
    assert_same_encoding(finished)


def test_spans_of_several_resources_and_scopes_are_grouped_as_the_sdk_groups_them():
    finished = []
    for service in ("library-service", "library-worker"):
        provider, spans = recording_provider(resource=Resource.create({"service.name": service, "worker": 1}))
        for scope in ("flask", "sqlalchemy"):
            tracer = provider.get_tracer(scope)
            tracer.start_span(f"{service} {scope} one").end()
            tracer.start_span(f"{service} {scope} two").end()
        finished.extend(spans.get_finished_spans())
    interleaved = finished[::2] + finished[1::2]
    message = assert_same_encoding(interleaved)
    assert len(message.resource_spans) == 2
    assert [len(rs.scope_spans) for rs in message.resource_spans] == [2, 2]


def test_spans_that_are_not_the_sdks_own_readable_span_go_through_the_public_properties():
    class Wrapped(ReadableSpan):
        pass

    provider, spans = recording_provider()
    with provider.get_tracer("t").start_as_current_span("outer", attributes={"a": "b"}) as span:
        span.add_event("e", {"k": 1})
    original = spans.get_finished_spans()[0]
    wrapped = Wrapped(name=original.name, context=original.context, parent=original.parent,
                      resource=original.resource, attributes=original.attributes, events=original.events,
                      links=original.links, kind=original.kind, status=original.status,
                      start_time=original.start_time, end_time=original.end_time,
                      instrumentation_scope=original.instrumentation_scope)
    assert_same_encoding([wrapped])


def test_the_string_attribute_cache_is_bounded_and_stays_correct():
    encoder = SpanEncoder(cache_size=8)
    provider, spans = recording_provider()
    tracer = provider.get_tracer("t")
    for n in range(30):
        tracer.start_span("GET /api/books/<int:book_id>", attributes={"url.path": f"/api/books/{n}",
                                                                       "db.system": "sqlite"}).end()
    finished = spans.get_finished_spans()
    for start in range(0, 30, 5):  # batches after batches, as the exporter sends them
        assert_same_encoding(finished[start:start + 5], encoder)
        assert len(encoder._cache) <= 8


def test_an_empty_batch_is_an_empty_request():
    assert SpanEncoder().encode_spans([]) == b""
    assert encode_spans([]).SerializePartialToString() == b""


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1])
def test_an_int_out_of_the_int64_range_is_left_out_and_logged_as_the_sdk_does(value, caplog):
    provider, spans = recording_provider()
    provider.get_tracer("t").start_span("s", attributes={"huge": value, "kept": 1}).end()
    finished = spans.get_finished_spans()
    assert finished[0].attributes["huge"] == value
    message = assert_same_encoding(finished)
    assert [kv.key for kv in message.resource_spans[0].scope_spans[0].spans[0].attributes] == ["kept"]
    assert "attribute 'huge' not exported" in caplog.text


def test_mappings_bytes_none_and_mixed_sequences_as_the_sdk_keeps_them():
    provider, spans = recording_provider()
    span = provider.get_tracer("t").start_span("any values", attributes={
        "mapping": {"a": 1, "b": [1, 2], "nested": {"c": "d"}}, "bytes": b"\x00\xff", "none": None,
        "mixed": [1, "a", 2.5, True]})
    span.add_event("with a mapping", {"m": {"x": "y"}})
    span.end()
    finished = spans.get_finished_spans()
    assert finished[0].attributes["bytes"] == b"\x00\xff"
    assert_same_encoding(finished)


# The exporter the app uses for OTLP/HTTP (app/telemetry/span_export.py).

@pytest.fixture()
def receiver():
    with OTLPReceiver() as r:
        yield r


def finished_spans(count=3):
    provider, spans = recording_provider()
    tracer = provider.get_tracer("t")
    for n in range(count):
        tracer.start_span(f"span {n}", attributes={"n": n, "db.system": "sqlite"}).end()
    return spans.get_finished_spans()


def test_the_exporter_posts_what_the_sdks_exporter_posts(receiver):
    spans = finished_spans()
    ours = EncodingOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
    stock = OTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
    assert ours.export(spans) is SpanExportResult.SUCCESS
    assert stock.export(spans) is SpanExportResult.SUCCESS
    assert receiver.errors == []
    assert len(receiver.traces) == 2 and receiver.traces[0] == receiver.traces[1]
    assert len(receiver.traces[0].resource_spans[0].scope_spans[0].spans) == 3


def test_a_batch_the_encoder_fails_on_goes_through_the_sdks_encoder(receiver, monkeypatch, caplog):
    exporter = EncodingOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")

    def broken(spans):
        raise RuntimeError("encoder bug")

    monkeypatch.setattr(exporter._encoder, "encode_spans", broken)
    assert exporter.export(finished_spans(2)) is SpanExportResult.SUCCESS
    assert [len(r.resource_spans[0].scope_spans[0].spans) for r in receiver.traces] == [2]
    assert "the SDK's encoder exports it" in caplog.text


def test_the_exporter_keeps_the_sdks_size_limit_and_failure_results(receiver):
    spans = finished_spans()
    small = EncodingOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces", max_request_size=50)
    assert small.export(spans) is SpanExportResult.FAILURE
    refused = EncodingOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/elsewhere", timeout=2)
    assert refused.export(spans) is SpanExportResult.FAILURE  # the receiver answers 404
    closed = EncodingOTLPSpanExporter(endpoint=f"{receiver.endpoint}/v1/traces")
    closed.shutdown()
    assert closed.export(spans) is SpanExportResult.FAILURE
    assert receiver.traces == []


def test_the_app_exports_over_http_with_this_exporter(tmp_path, receiver):
    app = make_app(tmp_path, OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint, OTEL_TRACES_SAMPLER="always_on")
    processors = telemetry.tracer_provider_for(app)._active_span_processor._span_processors
    exporters = [processor.span_exporter for processor in processors if hasattr(processor, "span_exporter")]
    assert [type(exporter) for exporter in exporters] == [EncodingOTLPSpanExporter]
    try:
        assert app.test_client().get("/api/books/42").status_code == 200
        telemetry.force_flush(app)
    finally:
        telemetry.shutdown(app)
    names = [span.name for r in receiver.traces for rs in r.resource_spans for ss in rs.scope_spans
             for span in ss.spans]
    assert "GET /api/books/<int:book_id>" in names


# Resources and scopes that are equal (==, same hash) but not identical: the SDK encodes each
# span's own object's attributes (found by a randomized comparison with the SDK's encoder).

def span_of(resource_attributes, scope_attributes):
    provider, spans = recording_provider(resource=Resource(resource_attributes))
    provider.get_tracer("lib", attributes=scope_attributes).start_span("s").end()
    return spans.get_finished_spans()[0]


def test_equal_scopes_under_two_resources_keep_their_own_attribute_order():
    assert_same_encoding([span_of({"r": "1"}, {"a": 1, "b": 2}), span_of({"r": "2"}, {"b": 2, "a": 1})])


@pytest.mark.parametrize("first, second", [(1, True), (1, 1.0), (0.0, -0.0)])
def test_a_reused_encoder_encodes_each_scopes_own_attribute_values(first, second):
    encoder = SpanEncoder()
    assert_same_encoding([span_of({}, {"x": first})], encoder)
    assert_same_encoding([span_of({}, {"x": second})], encoder)


def test_a_reused_encoder_encodes_each_resources_own_attribute_order():
    encoder = SpanEncoder()
    assert_same_encoding([span_of({"a": "1", "b": "2"}, None)], encoder)
    assert_same_encoding([span_of({"b": "2", "a": "1"}, None)], encoder)
