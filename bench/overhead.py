"""Telemetry overhead benchmark: the same app under `gunicorn -w 1`, with and without OpenTelemetry.

Three servers run side by side on one database holding the real goodbooks-10k catalogue:

- `disabled`: OTEL_SDK_DISABLED=true (the baseline);
- `defaults`: the production defaults of docs/telemetry.md (metrics on, traces head-sampled at
  the documented default ratio), exporting OTLP to a local sink;
- `traced`:   every request traced (OTEL_TRACES_SAMPLER=always_on), exporting OTLP to the sink.

Each round loads every server in turn (rotating the order) with wrk on two endpoints: a random
book's detail and a catalogue search. Per round it prints throughput, the ratio to the baseline of
the same round, p99 latency and the worker's CPU time per request (and its ratio: baseline CPU ÷
this CPU, less sensitive to other load than throughput); at the end the median and the spread
(min–max) over rounds. The machine is shared: compare medians, read the spread.

    .venv/bin/python bench/overhead.py [--rounds 5] [--duration 10] [--profile]

`--profile` also samples the defaults and traced servers with py-spy (pip install py-spy) and prints where its
time goes. Not a test: nothing here asserts; the figures go into docs/deployment.md.
"""
import argparse
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
RESULTS = ROOT / "bench" / "results"
SINK = Path(__file__).resolve().parent / "otlp_sink.py"

CONFIGS = {
    "disabled": {"OTEL_SDK_DISABLED": "true"},
    "defaults": {},
    "traced": {"OTEL_TRACES_SAMPLER": "always_on"},
}

SEARCH_WORDS = ["harry", "love", "war", "the", "king", "night", "girl", "history", "dark", "life",
                "house", "moon", "summer", "secret", "world", "zzzznothing"]

LUA = {
    "detail": """
math.randomseed(%(seed)d)
request = function()
  return wrk.format("GET", "/api/books/" .. math.random(1, %(max_id)d))
end
""",
    "search": """
math.randomseed(%(seed)d)
local words = {%(words)s}
request = function()
  return wrk.format("GET", "/api/books?q=" .. words[math.random(#words)] .. "&per_page=20")
end
""",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def flask(env, *args, check=True):
    return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, check=check,
                          capture_output=True, text=True)


def prepare_database(path: Path, base_env: dict) -> int:
    """Migrate and import the real catalogue once (kept in bench/results); returns the highest book id."""
    env = dict(base_env, DATABASE_URL=f"sqlite:///{path}", OTEL_SDK_DISABLED="true")
    if not path.exists():
        print(f"preparing {path} (flask db upgrade; flask library import data/goodbooks-10k)", flush=True)
        flask(env, "db", "upgrade")
        started = time.monotonic()
        result = flask(env, "library", "import", "data/goodbooks-10k", check=False)
        if result.returncode != 0:
            path.unlink(missing_ok=True)
            sys.exit(f"import failed:\n{result.stdout}\n{result.stderr}")
        print(f"  imported in {time.monotonic() - started:.1f} s", flush=True)
    import sqlite3

    with sqlite3.connect(path) as conn:
        count, max_id = conn.execute("SELECT count(*), max(id) FROM books").fetchone()
    print(f"database: {count} books (max id {max_id})", flush=True)
    if count < 1000:
        sys.exit("the benchmark needs the imported catalogue (at least 1,000 books)")
    return max_id


def wait_http(url, timeout=30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def start_server(name, env, logdir):
    port = free_port()
    env = dict(env, PORT=str(port), HOST="127.0.0.1", WEB_CONCURRENCY="1")
    log = open(logdir / f"{name}.log", "w")
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "gunicorn.conf.py", "--preload", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/healthz")
    return proc, base


def worker_pid(master_pid: int) -> int:
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(children[0])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_wrk(url, script, duration, connections):
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--timeout", "10s", "--latency",
                          "-s", script, url],
                         capture_output=True, text=True, check=True).stdout
    rps = requests = p99 = None
    errors = 0
    for line in out.splitlines():
        parts = line.split()
        if line.startswith("Requests/sec:"):
            rps = float(parts[1])
        elif "requests in" in line:
            requests = int(parts[0])
        elif parts[:1] == ["99%"]:
            p99 = parse_duration(parts[1])
        elif line.strip().startswith("Non-2xx") or line.strip().startswith("Socket errors"):
            errors += sum(int(p.rstrip(",")) for p in parts if p.rstrip(",").isdigit())
    return {"rps": rps, "requests": requests, "p99_ms": p99, "errors": errors, "raw": out}


def parse_duration(text):
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def profile(pid, seconds, out_path):
    """Sample `pid` with py-spy; returns collapsed stacks {stack: count}."""
    py_spy = shutil.which("py-spy") or str(BIN / "py-spy")
    subprocess.run([py_spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "200", "-f", "raw",
                    "-o", str(out_path), "--nonblocking", "--full-filenames"], check=True, capture_output=True)
    stacks = Counter()
    for line in out_path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if count.isdigit():  # --nonblocking may read a torn stack: skip it
            stacks[stack] += int(count)
    return stacks


def _classify(frame):
    """'telemetry', 'app' or None (library code: belongs to whoever called it)."""
    if "/opentelemetry/" in frame or "/app/telemetry/" in frame:
        return "telemetry"
    # Flask's own dispatch counts as the app's: the instrumentation wraps it, and a wrapper's
    # frame must not take the blame for the request it passes through.
    if f"{ROOT}/app/" in frame or "/site-packages/flask/" in frame:
        return "app"
    return None


def summarise_profile(stacks, top=12):
    """Charge each sample to the innermost telemetry or app frame on its stack.

    A SQLAlchemy call made by a view counts as app time; the same call made by the
    instrumentation's hooks counts as telemetry, and so does OTLP encoding in the exporter
    thread. Samples with neither (gunicorn's socket I/O, WSGI plumbing) are "other".
    """
    total = sum(stacks.values())
    owners, telemetry_leaves = Counter(), Counter()
    by_class = Counter()
    for stack, count in stacks.items():
        frames = stack.split(";")
        owner = next((f for f in reversed(frames) if _classify(f)), None)
        kind = _classify(owner) if owner else "other"
        by_class[kind] += count
        if kind == "telemetry":
            owners[_component(owner)] += count
            telemetry_leaves[_short(frames[-1])] += count
    print(f"profile: {total} samples: " + ", ".join(
        f"{kind} {100 * by_class[kind] / total:.1f} %" for kind in ("app", "telemetry", "other")))
    print("  telemetry time by component (innermost telemetry frame):")
    for frame, count in owners.most_common(top):
        print(f"    {100 * count / total:5.1f} %  {frame}")
    print("  telemetry time by leaf frame:")
    for frame, count in telemetry_leaves.most_common(top):
        print(f"    {100 * count / total:5.1f} %  {frame}")


def _component(frame):
    """`opentelemetry/sdk/trace/__init__.py` -> `sdk/trace`; `app/telemetry/requests.py` as is."""
    path = frame.rpartition(" (")[2]
    if "/app/telemetry/" in path:
        return "app/telemetry/" + path.split("/app/telemetry/", 1)[1].split(":")[0]
    parts = path.split("/opentelemetry/", 1)[1].split("/")
    if parts[0] in ("instrumentation", "sdk", "exporter") and len(parts) > 2:
        return "/".join(parts[:2]) if parts[0] != "exporter" else "exporter/" + parts[1]
    return parts[0].split(":")[0]


def _short(frame):
    for marker in ("/site-packages/", f"{ROOT}/"):
        if marker in frame:
            head, _, tail = frame.partition(" (")
            return f"{head} ({tail.split(marker, 1)[1]}"
    return frame


def fmt_spread(values, spec="{:.3f}"):
    return f"{spec.format(statistics.median(values))} [{spec.format(min(values))}–{spec.format(max(values))}]"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=10, help="seconds of load per run")
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--profile", action="store_true", help="py-spy the traced server")
    parser.add_argument("--database", type=Path, default=RESULTS / "overhead.db")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install wrk")

    RESULTS.mkdir(parents=True, exist_ok=True)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    base_env.update(FLASK_APP="app", SECRET_KEY="bench", LOG_LEVEL="WARNING")
    max_id = prepare_database(args.database.resolve(), base_env)
    base_env["DATABASE_URL"] = f"sqlite:///{args.database.resolve()}"

    workdir = Path(tempfile.mkdtemp(prefix="overhead-"))
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, str(SINK), str(sink_port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    servers = {}
    try:
        scripts = {}
        for endpoint, template in LUA.items():
            scripts[endpoint] = workdir / f"{endpoint}.lua"
            scripts[endpoint].write_text(template % {
                "seed": 42, "max_id": max_id, "words": ", ".join(f'"{w}"' for w in SEARCH_WORDS)})
        for name, extra in CONFIGS.items():
            env = dict(base_env, **extra)
            if name != "disabled":
                env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://127.0.0.1:{sink_port}"
            servers[name] = start_server(name, env, workdir)
        wait_http(f"http://127.0.0.1:{sink_port}/")
        pids = {name: worker_pid(proc.pid) for name, (proc, _) in servers.items()}
        print(f"servers: " + ", ".join(f"{n} {b} (worker {pids[n]})" for n, (_, b) in servers.items()))
        for name, (_, base) in servers.items():  # warm up: imports, caches, first connections
            run_wrk(base, str(scripts["detail"]), 2, args.connections)
            run_wrk(base, str(scripts["search"]), 2, args.connections)

        results = {(n, e): [] for n in CONFIGS for e in LUA}
        names = list(CONFIGS)
        for round_no in range(1, args.rounds + 1):
            order = names[round_no % len(names):] + names[: round_no % len(names)]
            for endpoint in LUA:
                for name in order:
                    _, base = servers[name]
                    cpu_before = cpu_seconds(pids[name])
                    run = run_wrk(base, str(scripts[endpoint]), args.duration, args.connections)
                    run["cpu_ms"] = 1000 * (cpu_seconds(pids[name]) - cpu_before) / max(run["requests"], 1)
                    if run["errors"]:
                        print(f"  warning: {name} {endpoint}: {run['errors']} errors/non-2xx")
                    results[(name, endpoint)].append(run)
                line = []
                for name in names:
                    run = results[(name, endpoint)][-1]
                    baseline = results[("disabled", endpoint)][-1]
                    ratio = run["ratio"] = run["rps"] / baseline["rps"]
                    run["cpu_ratio"] = baseline["cpu_ms"] / run["cpu_ms"]
                    line.append(f"{name} {run['rps']:7.1f} req/s x{ratio:.3f} p99 {run['p99_ms']:6.1f} ms "
                                f"cpu {run['cpu_ms']:.2f} ms/req x{run['cpu_ratio']:.3f}")
                print(f"round {round_no} {endpoint:6}: " + " | ".join(line), flush=True)

        print(f"\nsummary over {args.rounds} rounds: median [min–max]")
        for endpoint in LUA:
            for name in names:
                runs = results[(name, endpoint)]
                print(f"  {endpoint:6} {name:8} ratio {fmt_spread([r['ratio'] for r in runs])}  "
                      f"req/s {fmt_spread([r['rps'] for r in runs], '{:.1f}')}  "
                      f"p99 ms {fmt_spread([r['p99_ms'] for r in runs], '{:.1f}')}  "
                      f"cpu ms/req {fmt_spread([r['cpu_ms'] for r in runs], '{:.2f}')}  "
                      f"cpu ratio {fmt_spread([r['cpu_ratio'] for r in runs])}")

        if args.profile:
            for endpoint in LUA:
                for name in ("defaults", "traced"):
                    _, base = servers[name]
                    load = subprocess.Popen(["wrk", "-t1", f"-c{args.connections}", "-d20s", "--timeout", "10s",
                                             "-s", str(scripts[endpoint]), base], stdout=subprocess.DEVNULL)
                    time.sleep(2)
                    raw = RESULTS / f"{name}-{endpoint}-profile.raw"
                    stacks = profile(pids[name], 15, raw)
                    load.wait()
                    print(f"\n== {name} ({endpoint}) ==")
                    summarise_profile(stacks)
                    print(f"  collapsed stacks: {raw}")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
        for proc, _ in servers.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        sink.terminate()
        sink.wait(timeout=10)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
