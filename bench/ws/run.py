#!/usr/bin/env python3
"""WebSocket side by side: carafe's bench_server (one worker) against the axum peer (axum-ws).

Builds nothing; build first, from the repository root:
    cargo build --release --manifest-path bench/ws/Cargo.toml          # axum-ws and ws-load
    cargo build --release -p carafe --example bench_server             # carafe's server

usage: python3 bench/ws/run.py [--rounds 5] [--secs 3] [--conns 64,256] [--size 32]
                               [--subscribers 10000] [--messages 20] [--out FILE]

Both servers are started once, pinned to CPU 0 (`taskset -c 0`) on free loopback ports;
ws-load runs pinned to CPU 1. Each round runs every mode (echo with each --conns, then a
broadcast to --subscribers) against both servers, the order of the servers alternating from
one round to the next. Around the measured window only (ws-load's `--sync` marks it; opening
and closing connections stay outside) the server's CPU time is read from /proc: utime+stime
of /proc/PID/stat (10 ms ticks), and the sum over its threads of /proc/PID/task/*/schedstat
(nanoseconds, the finer figure when a window uses little CPU). CPU µs per message is per
round trip for echo and per delivered message for broadcast.

Prints a Markdown table per mode (every round, then the median per server) and writes the raw
JSON lines (ws-load's, with the server, round and CPU figures added) to --out, by default
bench/results/ws-<date>.txt. Every server is stopped at the end, on error too. Exits 1 if any
run reported errors. Wall-clock figures are only comparable on a quiet machine.
"""
import argparse, datetime, json, os, resource, signal, socket, statistics, subprocess, sys, threading

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.dont_write_bytecode = True  # no __pycache__ left in bench/
import serverproc  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def cpu_us(pid):
    """(utime+stime from /proc/PID/stat, sum of the threads' schedstat run time), in µs."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    ns = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            ns += int(open(f"/proc/{pid}/task/{tid}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return ticks * 1e6 / TICK, ns / 1e3


def listen_overflows():
    """The kernel's count of connections dropped because an accept queue was full."""
    lines = [l.split() for l in open("/proc/net/netstat") if l.startswith("TcpExt:")]
    return int(dict(zip(lines[0][1:], lines[1][1:])).get("ListenOverflows", 0))


def start_server(name, argv):
    port = serverproc.free_port()
    command = ["taskset", "-c", "0"] + argv + ["--addr", f"127.0.0.1:{port}"]
    server = serverproc.start(command, port, stdout=subprocess.DEVNULL)
    server.name, server.port = name, port
    if server.poll() is not None:
        raise SystemExit(f"{name} exited at once (status {server.returncode}): {' '.join(command)}")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        raise SystemExit(f"{name} does not listen on port {port}: {' '.join(command)}")
    return server


def stop_server(server):
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(5)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def run_load(server, argv, limit_s):
    """Runs ws-load (pinned to CPU 1) with --sync, reading the server's CPU time at its
    @start and @end; returns its JSON with the CPU figures added."""
    overflows = listen_overflows()
    load = subprocess.Popen(["taskset", "-c", "1"] + argv + ["--sync"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(limit_s, load.kill)
    watchdog.start()
    before = after = None
    result = None
    try:
        for line in load.stdout:
            line = line.strip()
            if line == "@start":
                before = cpu_us(server.pid)
            elif line == "@end":
                after = cpu_us(server.pid)
            elif line.startswith("{"):
                result = json.loads(line)
                continue
            else:
                print(f"ws-load: {line}", file=sys.stderr)
                continue
            load.stdin.write("\n")
            load.stdin.flush()
        load.wait()
    finally:
        watchdog.cancel()
        if load.poll() is None:
            load.kill()
            load.wait()
    if result is None or before is None or after is None:
        raise RuntimeError(f"ws-load failed against {server.name} (status {load.returncode}): {' '.join(argv)}")
    # System-wide, so another program's overflow would count too; ws-load opens at most 100
    # connections at a time to stay below axum's backlog of 128 (an overflow costs a 1 s retry).
    result["listen_overflows"] = listen_overflows() - overflows
    messages = result["round_trips"] if result["mode"] == "echo" else result["delivered"]
    result["server_cpu_us"] = round(after[0] - before[0])
    result["server_cpu_us_schedstat"] = round(after[1] - before[1])
    result["cpu_us_per_msg"] = (after[0] - before[0]) / max(messages, 1)
    result["cpu_us_per_msg_schedstat"] = (after[1] - before[1]) / max(messages, 1)
    return result


def default_out():
    base = os.path.join(ROOT, "bench", "results", f"ws-{datetime.date.today().isoformat()}")
    path, n = base + ".txt", 2
    while os.path.exists(path):  # never overwrite an earlier run of the same day
        path, n = f"{base}-{n}.txt", n + 1
    return path


ECHO_COLUMNS = [("rt/s", "rt_per_s", "%.0f"), ("p50 µs", "p50_us", "%.0f"), ("p99 µs", "p99_us", "%.0f"),
                ("CPU µs/rt", "cpu_us_per_msg", "%.2f"), ("CPU µs/rt (schedstat)", "cpu_us_per_msg_schedstat", "%.2f"),
                ("errors", "errors", "%d")]
BROADCAST_COLUMNS = [("fan-out p50 ms", "fanout_ms_p50", "%.2f"), ("fan-out max ms", "fanout_ms_max", "%.2f"),
                     ("CPU µs/msg", "cpu_us_per_msg", "%.3f"),
                     ("CPU µs/msg (schedstat)", "cpu_us_per_msg_schedstat", "%.3f"), ("errors", "errors", "%d")]


def print_table(title, columns, rows_by_server):
    print(f"\n### {title}\n")
    print("| server | round | " + " | ".join(c[0] for c in columns) + " |")
    print("|---|---|" + "---|" * len(columns))
    for name, rows in rows_by_server.items():
        for row in rows:
            print(f"| {name} | {row['round']} | " + " | ".join(fmt % row[key] for _, key, fmt in columns) + " |")
        if rows:
            medians = [fmt % statistics.median(row[key] for row in rows) for _, key, fmt in columns]
            medians[-1] = "%d" % sum(row["errors"] for row in rows)  # errors: the total, not a median
            print(f"| **{name}** | **median** | " + " | ".join(medians) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--secs", type=float, default=3, help="echo: measured seconds per run")
    ap.add_argument("--conns", default="64,256", help="echo: connection counts, comma-separated")
    ap.add_argument("--size", type=int, default=32, help="echo: message bytes")
    ap.add_argument("--subscribers", type=int, default=10000, help="broadcast: subscribers (0 skips broadcast)")
    ap.add_argument("--messages", type=int, default=20, help="broadcast: measured broadcasts per run")
    ap.add_argument("--carafe", default=os.path.join(ROOT, "target/release/examples/bench_server"))
    ap.add_argument("--axum", default=os.path.join(HERE, "target/release/axum-ws"))
    ap.add_argument("--load", default=os.path.join(HERE, "target/release/ws-load"))
    ap.add_argument("--out", default=None, help="raw JSON lines (default bench/results/ws-<date>.txt)")
    a = ap.parse_args()
    for path in (a.carafe, a.axum, a.load):
        if not os.access(path, os.X_OK):
            raise SystemExit(f"missing {path}: build first (see the docstring)")
    out_path = a.out or default_out()

    # Servers and ws-load inherit this: 10,000 subscribers are 10,000 sockets on each side.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < a.subscribers + 100:
        print(f"warning: the open-file hard limit ({hard}) is below {a.subscribers} subscribers", file=sys.stderr)

    modes = [("echo", int(c)) for c in a.conns.split(",") if c]
    if a.subscribers > 0:
        modes.append(("broadcast", a.subscribers))
    specs = [("carafe", [a.carafe, "--workers", "1"]), ("axum", [a.axum])]
    results = {(mode, n): {name: [] for name, _ in specs} for mode, n in modes}
    failed, notes = [], []
    servers = []
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    with open(out_path, "w") as out:
        try:
            for name, argv in specs:
                servers.append(start_server(name, argv))
            out.write(json.dumps({"meta": "ws-bench", "date": datetime.datetime.now().isoformat(timespec="seconds"),
                                  "args": vars(a) | {"out": out_path},
                                  "servers": {s.name: s.args for s in servers}}) + "\n")
            for rnd in range(1, a.rounds + 1):
                order = servers if rnd % 2 == 1 else servers[::-1]
                for mode, n in modes:
                    for server in order:
                        if server.poll() is not None:
                            raise RuntimeError(f"{server.name} died (status {server.returncode})")
                        base = f"127.0.0.1:{server.port}"
                        if mode == "echo":
                            argv = [a.load, "echo", "--url", f"ws://{base}/ws/echo", "--conns", str(n),
                                    "--secs", str(a.secs), "--size", str(a.size)]
                            limit = 60 + a.secs
                        else:
                            argv = [a.load, "broadcast", "--url", f"ws://{base}/ws/room",
                                    "--post", f"http://{base}/broadcast",
                                    "--subscribers", str(n), "--messages", str(a.messages)]
                            limit = 120 + 10 * (a.messages + 1)
                        result = run_load(server, argv, limit)
                        result.update(server=server.name, round=rnd)
                        out.write(json.dumps(result) + "\n")
                        out.flush()
                        results[(mode, n)][server.name].append(result)
                        if result["errors"]:
                            failed.append(f"{server.name} {mode} {n} round {rnd}: {result['errors']} errors")
                        if result["listen_overflows"]:
                            notes.append(f"{server.name} {mode} {n} round {rnd}: "
                                         f"{result['listen_overflows']} listen-queue overflows (SYNs retried)")
                        figure = (f"{result['rt_per_s']} rt/s" if mode == "echo"
                                  else f"fan-out p50 {result['fanout_ms_p50']} ms")
                        print(f"round {rnd} {mode} {n} {server.name}: {figure}, "
                              f"{result['cpu_us_per_msg_schedstat']:.2f} CPU µs/msg, {result['errors']} errors",
                              file=sys.stderr)
        finally:
            for server in servers:
                stop_server(server)

    for (mode, n), rows in results.items():
        if mode == "echo":
            print_table(f"echo, {n} connections, {a.size}-byte text messages, {a.secs:g} s", ECHO_COLUMNS, rows)
        else:
            print_table(f"broadcast to {n} subscribers, {a.messages} messages one at a time", BROADCAST_COLUMNS, rows)
    print(f"\nraw JSON lines: {out_path}")
    for line in notes:
        print("note:", line)
    for line in failed:
        print("ERRORS:", line)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
