"""OTLP span encoding: the SDK's encode_spans against app.telemetry.span_encoding, side by side.

Captures the spans of real traced book-detail requests (the app on a copy of the benchmark
database, every request sampled), checks both encodings parse to the same message, then
encodes the same batches of 500 spans (the batch processor's export size is 512) with
each, alternating, and prints the median time per request's spans and the ratio.

    .venv/bin/python bench/encode_spans.py [--requests 100] [--rounds 15]
"""
import argparse
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402  (bench/overhead.py: the benchmark database)
import overhead_instructions  # noqa: E402  (a GET through the app's WSGI callable)


def capture_spans(database: Path, requests: int):
    """The finished spans of `requests` traced book-detail requests."""
    os.environ.update(DATABASE_URL=f"sqlite:///{database}", OTEL_TRACES_SAMPLER="always_on",
                      SECRET_KEY="bench", LOG_LEVEL="WARNING")
    sys.path.insert(0, str(overhead.ROOT))
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from app import create_app, telemetry

    app = create_app()
    spans = InMemorySpanExporter()
    telemetry.tracer_provider_for(app).add_span_processor(SimpleSpanProcessor(spans))
    rng = random.Random(42)
    for _ in range(requests):
        overhead_instructions.wsgi_get(app, f"/api/books/{rng.randint(1, 10000)}")
    return spans.get_finished_spans()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100, help="traced requests whose spans are encoded")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base_env.update(FLASK_APP="app", SECRET_KEY="bench", LOG_LEVEL="WARNING")
    source = overhead.RESULTS / "overhead.db"
    overhead.RESULTS.mkdir(parents=True, exist_ok=True)
    overhead.prepare_database(source.resolve(), base_env)
    workdir = Path(tempfile.mkdtemp(prefix="encode-spans-"))
    try:
        shutil.copy(source, workdir / "bench.db")
        spans = capture_spans(workdir / "bench.db", args.requests)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    from app.telemetry.span_encoding import SpanEncoder

    encoder = SpanEncoder()
    batches = [spans[i:i + 500] for i in range(0, len(spans), 500)]
    for batch in batches:
        ours, theirs = ExportTraceServiceRequest(), ExportTraceServiceRequest()
        ours.ParseFromString(encoder.encode_spans(batch))
        theirs.ParseFromString(encode_spans(batch).SerializePartialToString())
        if ours != theirs:
            raise SystemExit("the encodings differ")
    encoders = {"sdk": lambda batch: encode_spans(batch).SerializePartialToString(),
                "ours": encoder.encode_spans}
    times = {name: [] for name in encoders}
    for _ in range(args.rounds):
        for name, encode in encoders.items():
            start = time.perf_counter()
            for batch in batches:
                encode(batch)
            times[name].append((time.perf_counter() - start) / args.requests * 1e6)
    print(f"{len(spans)} spans of {args.requests} traced book-detail requests, {len(batches)} batches, "
          f"{args.rounds} rounds; same message both ways")
    for name, values in times.items():
        print(f"  {name:5} median {statistics.median(values):7.1f} µs per request "
              f"[{min(values):.1f}–{max(values):.1f}]")
    print(f"  ratio sdk / ours {statistics.median(times['sdk']) / statistics.median(times['ours']):.1f}")


if __name__ == "__main__":
    main()
