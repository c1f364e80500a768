#!/usr/bin/env python3
"""CPU used by an idle carafe server holding idle keep-alive connections.

usage: python3 bench/idle_cpu.py [-n 1000] [--seconds 10] [--path /] BINARY [ARGS...]
BINARY is started with `--addr 127.0.0.1:PORT` appended; each of N connections makes one
request (GET PATH, which must answer 200: `--path /plaintext` for bench_server), then all
stay open and silent while the server's user+system CPU time is measured from /proc/PID/stat. An event loop without busy polling shows 0.00%.
"""
import argparse, os, resource, socket, time

import serverproc

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=1000)
ap.add_argument("--seconds", type=float, default=10)
ap.add_argument("--path", default="/", help="what each connection asks for first (must answer 200)")
ap.add_argument("command", nargs=argparse.REMAINDER)
a = ap.parse_args()
resource.setrlimit(resource.RLIMIT_NOFILE, (max(4096, a.n + 100),) * 2)
port = serverproc.free_port()
server = serverproc.start(a.command + ["--addr", f"127.0.0.1:{port}"], port)
try:
    def cpu_seconds():
        fields = open(f"/proc/{server.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    held = []
    for _ in range(a.n):
        c = socket.create_connection(("127.0.0.1", port))
        c.sendall(f"GET {a.path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        held.append(c)
    for c in held:
        assert c.recv(65536).startswith(b"HTTP/1.1 200"), f"a request for {a.path} failed"
    time.sleep(1)
    c0, t0 = cpu_seconds(), time.time()
    time.sleep(a.seconds)
    c1, t1 = cpu_seconds(), time.time()
    print(f"{a.n} idle keep-alive connections: server CPU {c1 - c0:.3f} s over {t1 - t0:.1f} s "
          f"= {100 * (c1 - c0) / (t1 - t0):.2f}%")
finally:
    server.terminate()
    server.wait()
