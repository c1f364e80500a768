#!/usr/bin/env python3
"""A real page: the example app's /blog served by carafe, by Flask and by axum with minijinja.

usage: python3 bench/pages.py [--setup] [--rounds 5] [--duration 5] [--conns 8,64] [--out FILE]

All three render templates/blog.html (which extends base.html) on every request from the same
posts (bench/pages/posts.json, written from the example app's POSTS) and answer with the same
headers as the example app's /blog. Before measuring, the script fetches /blog from each and
checks that the three bodies are identical byte for byte (it stops if they are not), and
lists the headers that differ.

  carafe  target/release/example-app --workers 1, RUST_LOG=warn (no access log)
  flask   gunicorn -w 1 -k sync (bench/pages/flask/app.py), no access log (gunicorn's default)
  axum    bench/pages/target/release/axum-pages (current-thread tokio runtime), logs nothing

Each server is pinned to CPU 0 and wrk (one thread) to CPU 1. In each round the servers take
turns (carafe, flask, axum), each started afresh, warmed up for 1 s, then loaded once per
connection count for --duration seconds. For each load: req/s, p99 latency (wrk --latency)
and server CPU per request (user+system time of the server's process group from
/proc/PID/stat, so gunicorn's master and worker both count, over the load, divided by the
requests wrk completed). Printed: the raw rounds, then a Markdown table of the medians with
their range and the ratios carafe/axum and carafe/flask (taken within each round, then the
median). The load average is printed before and after each round.

--setup first builds what the servers need: `cargo build --release -p example-app`, the axum
peer (`cargo build --release --manifest-path bench/pages/Cargo.toml`), posts.json again
(`cargo run --release -p example-app --example posts_json`, which must match the file in
the repository), and a venv at bench/pages/.venv with bench/pages/flask/requirements.txt.
"""
import argparse, os, re, socket, statistics, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverproc import free_port, group_cpu_seconds as cpu_seconds, stop  # noqa: E402
import serverproc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PAGES = os.path.join(HERE, "pages")
VENV = os.path.join(PAGES, ".venv")
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PEER_TARGET = os.path.join(PAGES, "target")


def servers():
    """name -> (argv with {port}, extra environment)."""
    return {
        "carafe": ([os.path.join(TARGET, "release", "example-app"), "--addr", "127.0.0.1:{port}", "--workers", "1"],
                   {"RUST_LOG": "warn"}),
        "flask": ([os.path.join(VENV, "bin", "gunicorn"), "-w", "1", "-k", "sync", "--bind", "127.0.0.1:{port}",
                   "--chdir", os.path.join(PAGES, "flask"), "app:app"], {}),
        "axum": ([os.path.join(PEER_TARGET, "release", "axum-pages"), "--addr", "127.0.0.1:{port}"], {}),
    }


def run(argv, **kw):
    print("+", " ".join(argv), file=sys.stderr)
    subprocess.run(argv, check=True, **kw)


def setup():
    run(["cargo", "build", "--release", "-p", "example-app"], cwd=ROOT)
    run(["cargo", "build", "--release", "--manifest-path", os.path.join(PAGES, "Cargo.toml")], cwd=ROOT,
        env=dict(os.environ, CARGO_TARGET_DIR=PEER_TARGET))
    posts = subprocess.run(["cargo", "run", "-q", "--release", "-p", "example-app", "--example", "posts_json"],
                           cwd=ROOT, check=True, capture_output=True).stdout
    with open(os.path.join(PAGES, "posts.json"), "rb") as f:
        if f.read() != posts:
            sys.exit("bench/pages/posts.json differs from the example app's POSTS: regenerate it with\n"
                     "  cargo run -p example-app --example posts_json > bench/pages/posts.json")
    if not os.path.exists(os.path.join(VENV, "bin", "gunicorn")):
        run([sys.executable, "-m", "venv", VENV])
        run([os.path.join(VENV, "bin", "pip"), "install", "-q", "-r", os.path.join(PAGES, "flask", "requirements.txt")])


def start(name, port):
    argv, env = servers()[name]
    argv = ["taskset", "-c", "0"] + [a.replace("{port}", str(port)) for a in argv]
    return serverproc.start(argv, port, stdout=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, **env))


def fetch(port, path="/blog"):
    """(status line, headers as a list of (lower-case name, value), body) of one GET."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (path, port)).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk: break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = [(k.strip().lower(), v.strip()) for k, _, v in (l.partition(":") for l in lines[1:])]
    if any(k == "transfer-encoding" and "chunked" in v for k, v in headers): sys.exit("unexpected chunked body")
    return lines[0], headers, body


def compare(names):
    """Fetches /blog from each server; exits unless the bodies are identical; prints the headers."""
    pages = {}
    for name in names:
        port = free_port(); p = start(name, port)
        try: pages[name] = fetch(port)
        finally: stop(p)
    first = names[0]
    for name in names:
        status, headers, body = pages[name]
        print("%s: %s, %d body bytes" % (name, status, len(body)))
        if not status.endswith("200 OK"): sys.exit("%s answered %s" % (name, status))
        if body != pages[first][2]:
            path = "/tmp/pages-%s.html" % name
            for n in (first, name): open("/tmp/pages-%s.html" % n, "wb").write(pages[n][2])
            sys.exit("the /blog bodies of %s and %s differ: diff /tmp/pages-%s.html %s" % (first, name, first, path))
    print("bodies: identical, byte for byte (%d bytes)" % len(pages[first][2]))
    print("| header | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    every = sorted({k for n in names for k, _ in pages[n][1]})
    for key in every:
        values = [", ".join(v for k, v in pages[n][1] if k == key) or "(none)" for n in names]
        if key == "x-request-id": values = [re.sub(r"^\d+-", "PID-", v) for v in values]
        if key == "date": values = ["(a date)" if v != "(none)" else v for v in values]
        print("| %s | %s |" % (key, " | ".join(values)))
    print()


def ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def wrk(port, conns, duration, pgid):
    c0 = cpu_seconds(pgid)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % duration, "--latency",
                          "http://127.0.0.1:%d/blog" % port], capture_output=True, text=True).stdout
    cpu = cpu_seconds(pgid) - c0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = ms(*re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups())
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    note = ("non-2xx %s " % bad.group(1) if bad else "") + ("socket errors: %s" % sock.group(1) if sock else "")
    return rps, p99, cpu * 1e6 / max(total, 1), note


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def summary(values):
    return statistics.median(values), min(values), max(values)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--setup", action="store_true", help="build the servers and the Flask venv first")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", default="8,64")
    ap.add_argument("--servers", default="carafe,flask,axum")
    a = ap.parse_args()
    if a.setup: setup()
    names = a.servers.split(","); conns = [int(c) for c in a.conns.split(",")]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print("commit %s%s; %s; %d rounds of %d s at %s connections" % (commit, " (with uncommitted changes)" if dirty else "",
          time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), a.rounds, a.duration, a.conns))
    compare(names)
    res = {}
    for r in range(a.rounds):
        print("round %d: load average %s before" % (r + 1, loadavg()), flush=True)
        for name in names:
            port = free_port(); p = start(name, port)
            try:
                wrk(port, 8, 1, p.pid)  # warm-up: templates loaded, Python's caches filled
                for c in conns:
                    rps, p99, us, note = wrk(port, c, a.duration, p.pid)
                    res.setdefault((name, c), []).append((rps, p99, us))
                    print("  %-6s c=%-3d %9.0f req/s  p99 %8.2f ms  %7.1f µs CPU/req  %s" % (name, c, rps, p99, us, note), flush=True)
            finally:
                stop(p)
        print("round %d: load average %s after" % (r + 1, loadavg()), flush=True)
    if not res: return
    print()
    metrics = [("req/s", 0, "%.0f"), ("p99 latency (ms)", 1, "%.2f"), ("server CPU per request (µs)", 2, "%.1f")]
    others = [n for n in names if n != "carafe"]
    print("| conns | metric | " + " | ".join(names) + " | " + " | ".join("carafe / %s" % n for n in others) + " |")
    print("|---|---|" + "---|" * (len(names) + len(others)))
    for c in conns:
        for label, i, fmt in metrics:
            cells = []
            for n in names:
                med, lo, hi = summary([x[i] for x in res[(n, c)]])
                cells.append((fmt + " (" + fmt + "–" + fmt + ")") % (med, lo, hi))
            for n in others if "carafe" in names else []:
                ratios = [x[i] / y[i] for x, y in zip(res[("carafe", c)], res[(n, c)])]
                med, lo, hi = summary(ratios)
                cells.append("%.2f (%.2f–%.2f)" % (med, lo, hi))
            print("| %d | %s | %s |" % (c, label, " | ".join(cells)))


if __name__ == "__main__":
    main()
