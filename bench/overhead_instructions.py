"""Telemetry overhead in CPU instructions per request, counted by valgrind's callgrind.

The timed benchmark (bench/overhead) measures throughput and CPU time, which on a shared
machine move by ±20 % between rounds of the same code. Instruction counts do not: callgrind
counts what the process executes, whatever else the machine is doing (the same code and
inputs give the same count within a fraction of a percent).

For each configuration of bench/overhead (disabled, defaults, traced) one process creates the
app on its own copy of the benchmark database and answers requests through the app's WSGI
callable (the same call gunicorn's worker makes, without gunicorn's own HTTP parsing, which
is the same for every configuration). Callgrind is switched on only around the measured
requests; the count covers all the process's threads, and spans are flushed to the OTLP sink
inside the window, so their encoding and export count (in full batches of 512, as at real
request rates, not every 5 s of the slowed-down run). The periodic metric collection (every
60 s by default) is measured apart, as one /metrics scrape, and spread over the requests a
minute holds at `--rps`.

    .venv/bin/python bench/overhead_instructions.py [--requests 400] [--searches 40] [--rps 120]

Needs valgrind (Debian package). Takes a few minutes (the three processes run in parallel).
"""
import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402  (bench/overhead.py: database, sink, configurations)
from opentelemetry.sdk.trace import SpanProcessor  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

ROOT = overhead.ROOT


def _environ(path, query=""):
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
            "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1", "HTTP_USER_AGENT": "bench"}


def wsgi_get(app, path, query="") -> str:
    """GET `path` through the app's WSGI callable, reading the whole body; the status line."""
    status = []
    body = app(_environ(path, query), lambda line, headers, exc_info=None: status.append(line))
    for _chunk in body:
        pass
    body.close()
    return status[0] if status else ""


def worker(max_id: int, detail_count: int, search_count: int) -> None:
    """Runs under callgrind: answers the driver's commands on stdin, one line each."""
    sys.path.insert(0, str(ROOT))
    from app import create_app, telemetry

    app = create_app()
    sampled = _SampledRequests()
    provider = telemetry.tracer_provider_for(app)
    if provider is not None:
        provider.add_span_processor(sampled)
    random.seed(7)  # the trace ids, hence which requests the 10 % sampler keeps, repeat run to run
    rng = random.Random(42)
    detail = [(f"/api/books/{rng.randint(1, max_id)}", "") for _ in range(detail_count)]
    search = [("/api/books", f"q={rng.choice(overhead.SEARCH_WORDS)}&per_page=20") for _ in range(search_count)]

    requests = {"warm": detail[:20] + search[:3], "detail": detail, "search": search,
                "metrics": [("/metrics", "")]}
    print("ready", flush=True)
    for line in sys.stdin:
        for path, query in requests[line.strip()]:
            status = wsgi_get(app, path, query)
            if not status.startswith("200"):
                raise SystemExit(f"{path}?{query}: {status}")
        if provider is not None:  # export the window's spans inside the window
            provider.force_flush()
        print(f"done {sampled.take()}", flush=True)


class _SampledRequests(SpanProcessor):
    """Counts the server spans recorded; take() gives the count since the last take()."""

    def __init__(self):
        self.count = 0

    def on_end(self, span):
        if span.kind is SpanKind.SERVER:
            self.count += 1

    def take(self) -> int:
        value, self.count = self.count, 0
        return value


class Counted:
    """One configuration's process under callgrind, driven over its stdin."""

    def __init__(self, name, env, out_dir, args, max_id):
        self.name, self.out_dir = name, out_dir
        self.sampled = {}  # command -> server spans recorded while it ran
        self.proc = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out_dir}/{name}.%p",
             sys.executable, __file__, "--worker", str(max_id), str(args.requests), str(args.searches)],
            cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=open(out_dir / f"{name}.log", "w"),
            text=True)
        self._expect("ready")

    def _expect(self, word) -> str:
        """Read the worker's next line, which must start with `word`; the rest of it."""
        line = self.proc.stdout.readline().strip()
        if line.split(" ")[0] != word:
            raise RuntimeError(f"{self.name}: expected {word!r}, got {line!r} (see {self.out_dir}/{self.name}.log)")
        return line[len(word):].strip()

    def _control(self, *args):
        subprocess.run(["callgrind_control", *args, str(self.proc.pid)], check=True, capture_output=True)

    def run(self, command) -> int:
        """Have the worker answer `command`'s requests; how many server spans it recorded meanwhile."""
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return int(self._expect("done"))

    def count(self, command) -> int:
        """Instructions executed while the process runs `command`."""
        self._control("-z")
        self._control("-i", "on")
        self.sampled[command] = self.run(command)
        self._control("-i", "off")
        before = set(self.out_dir.glob(f"{self.name}.{self.proc.pid}.*"))
        self._control("--dump")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for path in set(self.out_dir.glob(f"{self.name}.{self.proc.pid}.*")) - before:
                totals = [line for line in path.read_text().splitlines() if line.startswith("totals:")]
                if totals:
                    return int(totals[-1].split()[1])
            time.sleep(0.5)
        raise RuntimeError(f"{self.name}: no callgrind dump")

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=300)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="book-detail requests counted")
    parser.add_argument("--searches", type=int, default=40, help="search requests counted")
    parser.add_argument("--rps", type=float, default=120.0, help="throughput the 60-s metric collection is spread over")
    parser.add_argument("--database", type=Path, default=overhead.RESULTS / "overhead.db")
    parser.add_argument("--configs", default=",".join(overhead.CONFIGS),
                        help="comma-separated configurations to count (disabled is always counted)")
    parser.add_argument("--worker", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found: apt-get install valgrind")

    overhead.RESULTS.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    # A fixed hash seed: dict and set layouts, hence a few instructions, repeat run to run.
    base_env.update(FLASK_APP="app", SECRET_KEY="bench", LOG_LEVEL="WARNING", PYTHONHASHSEED="0")
    configs = {name: overhead.CONFIGS[name] for name in overhead.CONFIGS
               if name == "disabled" or name in args.configs.split(",")}
    max_id = overhead.prepare_database(args.database.resolve(), base_env)
    workdir = Path(tempfile.mkdtemp(prefix="overhead-instructions-"))
    sink_port = overhead.free_port()
    sink = subprocess.Popen([sys.executable, str(overhead.SINK), str(sink_port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    results, errors, processes = {}, [], []

    def measure(name, extra):
        try:
            database = workdir / f"{name}.db"
            shutil.copy(args.database, database)  # each writes view counts: no shared write lock
            env = dict(base_env, DATABASE_URL=f"sqlite:///{database}", **extra)
            if name != "disabled":
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
                env["OTEL_METRIC_EXPORT_INTERVAL"] = str(3_600_000)  # counted apart, below
                # Under callgrind a request takes ~50x longer, so the 5-s span export would carry
                # a handful of spans each time and its per-batch cost would be overcounted; spans
                # go out in full batches (512) and at the end of each window instead.
                env["OTEL_BSP_SCHEDULE_DELAY"] = str(3_600_000)
            counted = Counted(name, env, workdir, args, max_id)
            processes.append(counted)
            counted.run("warm")
            row = {"detail": counted.count("detail") / args.requests,
                   "search": counted.count("search") / args.searches, "sampled": counted.sampled}
            if name != "disabled":
                row["collection"] = counted.count("metrics")
            counted.close()
            results[name] = row
        except Exception as exc:  # reported after the others finish
            errors.append(f"{name}: {exc}")

    try:
        overhead.wait_http(f"http://127.0.0.1:{sink_port}/")
        threads = [threading.Thread(target=measure, args=item) for item in configs.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            sys.exit("failed: " + "; ".join(errors))
    finally:
        for counted in processes:
            if counted.proc.poll() is None:
                counted.proc.kill()
        sink.terminate()
        sink.wait(timeout=10)

    baseline = results["disabled"]
    print(f"\ninstructions per request, in-process WSGI calls ({args.requests} detail, {args.searches} search); "
          "ratio = baseline / this")
    counts = {"detail": args.requests, "search": args.searches}
    for endpoint in ("detail", "search"):
        for name in configs:
            value = results[name][endpoint]
            traced = results[name]["sampled"].get(endpoint, 0)
            print(f"  {endpoint:6} {name:8} {value / 1e6:7.3f} M  ratio {baseline[endpoint] / value:.3f}"
                  f"  ({traced} of {counts[endpoint]} requests traced)")
    for name in configs:
        if name == "disabled":
            continue
        collection = results[name]["collection"]
        share = collection / (60 * args.rps)
        print(f"  metric collection ({name}): {collection / 1e6:.0f} M instructions each; every 60 s at "
              f"{args.rps:g} req/s that is {share / 1e6:.3f} M per request: detail ratio "
              f"{baseline['detail'] / (results[name]['detail'] + share):.3f}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
