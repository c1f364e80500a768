#!/usr/bin/env python3
"""Two cores: carafe's bench_server with --workers 2 beside --workers 1, and its memory per worker.

usage: python3 bench/cores.py [--rounds 5] [--duration 5] [--conns 64] [--idle-conns 10000] [--memory-repeats 5] [BINARY]
BINARY defaults to target/release/examples/bench_server
(`cargo build --release -p carafe --example bench_server`).

Throughput: /plaintext pipelined 16 requests per write and not pipelined, in three setups
that take turns within each round (each server started afresh, warmed up for 1 s):

  1w-alone   --workers 1 pinned to CPU 0, wrk -t1 pinned to CPU 1 (the setup of every other
             table in BENCHMARKS.md: the server has a core to itself)
  1w-shared  --workers 1 on CPUs 0-1, wrk -t2 on CPUs 0-1
  2w-shared  --workers 2 on CPUs 0-1, wrk -t2 on CPUs 0-1

In the shared setups the load generator competes with the server for the same two cores, so
they show what a second worker gains on a machine whose cores the clients also use, not what
it would gain with cores to spare. For each load: req/s and server CPU per request (user+system
time of the server process from /proc over the load, divided by the requests wrk completed).
Printed: every round, then the medians with their range and the ratio 2w-shared / 1w-shared
(taken within each round).

Memory: the server's RSS (VmRSS) idle after start, and again idle after one 2 s load (buffers
pooled), for 1 and 2 workers, started --memory-repeats times in turn (median and range); then
bench/idle_conns.py --path /plaintext with --idle-conns connections held for each worker
count, giving the RSS per idle connection. --rounds 0 measures the memory alone.
"""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
# The server runs in a session of its own, so its process group is its pid.
from serverproc import free_port, group_cpu_seconds as cpu_seconds, stop  # noqa: E402
import serverproc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
PIPELINE = """init = function(args)
  local r = {}
  for i = 1, 16 do r[i] = wrk.format() end
  req = table.concat(r)
end
request = function() return req end
"""
# name -> (server CPUs, workers, wrk CPUs, wrk threads)
SETUPS = {
    "1w-alone": ("0", 1, "1", 1),
    "1w-shared": ("0,1", 1, "0,1", 2),
    "2w-shared": ("0,1", 2, "0,1", 2),
}


def start(binary, workers, cpus, port):
    argv = ["taskset", "-c", cpus, binary, "--addr", "127.0.0.1:%d" % port, "--workers", str(workers)]
    return serverproc.start(argv, port, stdout=subprocess.DEVNULL, start_new_session=True)


def rss_kib(pid):
    return int(re.search(r"VmRSS:\s+(\d+)", open("/proc/%d/status" % pid).read()).group(1))


def wrk(port, cpus, threads, conns, duration, pipelined, pid, lua):
    extra = ["-s", lua] if pipelined else []
    c0 = cpu_seconds(pid)
    out = subprocess.run(["taskset", "-c", cpus, "wrk", "-t%d" % threads, "-c%d" % conns, "-d%ds" % duration] + extra
                         + ["http://127.0.0.1:%d/plaintext" % port], capture_output=True, text=True).stdout
    cpu = cpu_seconds(pid) - c0
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: (.*)", out)
    note = ("non-2xx %s " % bad.group(1) if bad else "") + ("socket errors: %s" % sock.group(1) if sock else "")
    return rps, cpu * 1e6 / max(total, 1), note


def loadavg():
    return open("/proc/loadavg").read().split()[0]


def memory(binary, idle_conns, repeats):
    """RSS idle, fresh and after a load, for 1 and 2 workers, `repeats` times in turn (RSS moves
    by about 100 KiB from one start to the next, more than a worker adds)."""
    rows = {}
    for _ in range(repeats):
        for workers in (1, 2):
            port = free_port(); p = start(binary, workers, "0,1", port)
            try:
                time.sleep(0.5)
                fresh = rss_kib(p.pid)
                subprocess.run(["taskset", "-c", "0,1", "wrk", "-t2", "-c64", "-d2s",
                                "http://127.0.0.1:%d/plaintext" % port], capture_output=True)
                time.sleep(0.5)
                rows.setdefault(workers, []).append((fresh, rss_kib(p.pid)))
            finally:
                stop(p)
    print("\nMemory (VmRSS, KiB; median of %d starts, range):" % repeats)
    print("| workers | idle after start | idle after a 2 s load (64 conns) |")
    print("|---|---|---|")
    for workers, values in rows.items():
        cells = []
        for i in (0, 1):
            v = [x[i] for x in values]
            cells.append("%d (%d–%d)" % (statistics.median(v), min(v), max(v)))
        print("| %d | %s |" % (workers, " | ".join(cells)), flush=True)
    if idle_conns:
        for workers in (1, 2):
            print("\nidle_conns.py -n %d --path /plaintext, --workers %d:" % (idle_conns, workers), flush=True)
            subprocess.run([sys.executable, os.path.join(HERE, "idle_conns.py"), "-n", str(idle_conns), "--path",
                            "/plaintext", binary, "--workers", str(workers)])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--idle-conns", type=int, default=10000)
    ap.add_argument("--memory-repeats", type=int, default=5)
    ap.add_argument("binary", nargs="?", default=os.path.join(TARGET, "release", "examples", "bench_server"))
    a = ap.parse_args()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    print("commit %s; %s; %d rounds of %d s, %d connections; %s" % (commit, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
          a.rounds, a.duration, a.conns, a.binary))
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False); lua.write(PIPELINE); lua.close()
    loads = [("/plaintext, 16 pipelined", True), ("/plaintext", False)]
    res = {}
    for r in range(a.rounds):
        print("round %d: load average %s before" % (r + 1, loadavg()), flush=True)
        for name, (cpus, workers, wrk_cpus, threads) in SETUPS.items():
            port = free_port(); p = start(a.binary, workers, cpus, port)
            try:
                wrk(port, wrk_cpus, threads, a.conns, 1, False, p.pid, lua.name)  # warm-up
                for label, pipelined in loads:
                    rps, us, note = wrk(port, wrk_cpus, threads, a.conns, a.duration, pipelined, p.pid, lua.name)
                    res.setdefault((name, label), []).append((rps, us))
                    print("  %-9s %-26s %10.0f req/s  %6.2f µs CPU/req  %s" % (name, label, rps, us, note), flush=True)
            finally:
                stop(p)
        print("round %d: load average %s after" % (r + 1, loadavg()), flush=True)
    os.unlink(lua.name)
    if res:
        table(res, loads)
    memory(a.binary, a.idle_conns, a.memory_repeats)


def table(res, loads):
    print()
    print("| load | metric | " + " | ".join(SETUPS) + " | 2w-shared / 1w-shared |")
    print("|---|---|" + "---|" * (len(SETUPS) + 1))
    for label, _ in loads:
        for metric, i, fmt in [("req/s", 0, "%.0f"), ("server CPU per request (µs)", 1, "%.2f")]:
            cells = []
            for name in SETUPS:
                v = [x[i] for x in res[(name, label)]]
                cells.append((fmt + " (" + fmt + "–" + fmt + ")") % (statistics.median(v), min(v), max(v)))
            ratios = [x[i] / y[i] for x, y in zip(res[("2w-shared", label)], res[("1w-shared", label)])]
            cells.append("%.2f (%.2f–%.2f)" % (statistics.median(ratios), min(ratios), max(ratios)))
            print("| %s | %s | %s |" % (label, metric, " | ".join(cells)))


if __name__ == "__main__":
    main()
