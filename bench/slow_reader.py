#!/usr/bin/env python3
"""Server memory under a pipelining client whose socket takes a few KiB at a time.

usage: sudo python3 bench/slow_reader.py [--seconds 15] [BINARY]
Runs in a network namespace of its own whose TCP send buffers are capped the way a modest
WAN client's are (net.ipv4.tcp_wmem = "4096 16384 262144"; loopback's default 4 MiB hides
the effect). BINARY (default target/release/example-app, from
`cargo build --release -p example-app`) serves there with `--workers 1`; one connection
pipelines `GET /static/style.css` and reads every response as fast as it arrives. Prints,
each second, the bytes read so far and the server's RSS (VmRSS): it must stay flat, not grow
with what the client has read. Needs root (`ip netns`, from iproute2).
"""
import argparse, os, socket, subprocess, sys, threading, time

import serverproc

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--seconds", type=int, default=15)
ap.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
ap.add_argument("binary", nargs="?", default="target/release/example-app")
a = ap.parse_args()

if not a.inside:
    if os.geteuid() != 0:
        sys.exit("slow_reader.py needs root for its network namespace (ip netns)")
    namespace = f"carafe-slow-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", namespace], check=True)
    try:
        subprocess.run(["ip", "-n", namespace, "link", "set", "lo", "up"], check=True)
        here = os.path.abspath(__file__)
        command = ["ip", "netns", "exec", namespace, sys.executable, here, "--inside",
                   "--seconds", str(a.seconds), a.binary]
        sys.exit(subprocess.run(command).returncode)
    finally:
        subprocess.run(["ip", "netns", "delete", namespace])

with open("/proc/sys/net/ipv4/tcp_wmem", "w") as wmem:
    wmem.write("4096 16384 262144")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


port = serverproc.free_port()
server = serverproc.start([a.binary, "--addr", f"127.0.0.1:{port}", "--workers", "1"], port,
                          env={**os.environ, "RUST_LOG": "warn"})
try:
    stream = socket.create_connection(("127.0.0.1", port))
    stop = threading.Event()
    batch = b"GET /static/style.css HTTP/1.1\r\nHost: x\r\n\r\n" * 64

    def send():
        try:
            while not stop.is_set():
                stream.sendall(batch)
        except OSError:
            pass

    threading.Thread(target=send, daemon=True).start()
    start_rss = rss_kib(server.pid)
    print(f"server RSS before: {start_rss / 1024:.1f} MiB")
    print(f"{'second':>6} {'MiB read':>10} {'server RSS MiB':>15}")
    read, started, next_report = 0, time.monotonic(), 1
    while True:
        chunk = stream.recv(1 << 20)
        if not chunk:
            sys.exit("the server closed the connection")
        read += len(chunk)
        elapsed = time.monotonic() - started
        if elapsed >= next_report:
            print(f"{next_report:>6} {read / 2**20:>10.0f} {rss_kib(server.pid) / 1024:>15.1f}")
            next_report += 1
            if next_report > a.seconds:
                break
    stop.set()
    stream.close()
finally:
    server.terminate()
    server.wait()
