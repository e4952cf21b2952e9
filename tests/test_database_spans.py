"""Our engine tracer makes the same database spans as the SQLAlchemy instrumentation's own.

The same statements run on two engines to the same database, one traced by the stock
EngineTracer, one by instrumentation.instrument_engine; the CLIENT spans must match in
name, kind, attributes, status and parent, on SQLite and on the real PostgreSQL.
"""
import pytest
import sqlalchemy as sa
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON
from opentelemetry.trace import SpanKind

from app.telemetry import instrumentation
from tests.conftest import PG_URL


def traced(engine_url, ours: bool):
    spans = InMemorySpanExporter()
    provider = TracerProvider(sampler=ALWAYS_ON)
    provider.add_span_processor(SimpleSpanProcessor(spans))
    engine = sa.create_engine(engine_url)
    if ours:
        assert instrumentation.instrument_engine(engine, provider, parent_based=True)
    else:
        usage = NoOpMeterProvider().get_meter("m").create_up_down_counter("db.client.connections.usage")
        EngineTracer(provider.get_tracer("opentelemetry.instrumentation.sqlalchemy"), engine, usage)
    return engine, provider, spans


def run_statements(engine, provider, table):
    with provider.get_tracer("test").start_as_current_span("request", kind=SpanKind.SERVER):
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            conn.execute(sa.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, title TEXT)"))
            conn.execute(sa.text(f"INSERT INTO {table} (id, title) VALUES (:id, :title)"),
                         [{"id": 1, "title": "Dune"}, {"id": 2, "title": "Emma"}])
            conn.execute(sa.text(f"/* a comment */ SELECT title FROM {table} WHERE id = :id"), {"id": 1})
        with pytest.raises(sa.exc.DBAPIError), engine.connect() as conn:
            conn.execute(sa.text("SELEC broken"))
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP TABLE {table}"))


def client_spans(spans):
    request = next(span for span in spans.get_finished_spans() if span.name == "request")
    return [(span.name, span.kind, dict(span.attributes), span.status.status_code, span.status.description,
             span.parent.span_id == request.context.span_id)
            for span in spans.get_finished_spans() if span.kind is SpanKind.CLIENT]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_the_same_spans_as_the_stock_engine_tracer(database, tmp_path):
    url = f"sqlite:///{tmp_path / 'spans.db'}" if database == "sqlite" else PG_URL
    results = []
    for ours in (False, True):
        engine, provider, spans = traced(url, ours)
        try:
            run_statements(engine, provider, f"span_parity_{'ours' if ours else 'stock'}")
        finally:
            engine.dispose()
        results.append(client_spans(spans))
    stock, ours = results
    ours = [(name.replace("ours", "stock"), kind, {k: v.replace("ours", "stock") if isinstance(v, str) else v
                                                    for k, v in attributes.items()}, *rest)
            for name, kind, attributes, *rest in ours]
    assert ours == stock
    names = [name for name, *_ in stock]
    assert "SELECT" in " ".join(names) and len(stock) >= 6
    assert any(status.name == "ERROR" for _, _, _, status, _, _ in stock)
    assert all(child_of_request for *_, child_of_request in stock)


def test_statements_outside_any_span_still_get_a_span(tmp_path):
    engine, provider, spans = traced(f"sqlite:///{tmp_path / 'root.db'}", ours=True)
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    finished = spans.get_finished_spans()
    assert [(span.name, span.parent) for span in finished] == [("SELECT " + str(tmp_path / "root.db"), None)]
