#!/usr/bin/env python3
"""Memory per idle keep-alive connection, and latency of a fresh request while they are held.

usage: python3 bench/idle_conns.py [-n 10000] [--path /] BINARY [ARGS...]
BINARY is started with `--addr 127.0.0.1:PORT` appended (and the open-file limit raised).
N connections each complete one GET, then stay open and idle. Reports the server's RSS
growth per held connection (from /proc), how long a fresh request takes while they are held,
and whether they are all still open 5 s later.
"""
import argparse, re, resource, socket, time

import serverproc

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=10000)
ap.add_argument("--path", default="/")
ap.add_argument("command", nargs=argparse.REMAINDER)
a = ap.parse_args()
# The client and the server each hold N sockets; both inherit this soft limit.
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
limit = a.n + 1000 if hard == resource.RLIM_INFINITY else min(a.n + 1000, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
request = f"GET {a.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

port = serverproc.free_port()
server = serverproc.start(a.command + ["--addr", f"127.0.0.1:{port}"], port)


def rss_kib():
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{server.pid}/status").read()).group(1))


def read_response(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    length = int(re.search(rb"(?i)content-length:\s*(\d+)", data).group(1))
    while len(data) < data.index(b"\r\n\r\n") + 4 + length:
        data += sock.recv(65536)
    return data


def fresh_request_ms():
    start = time.perf_counter()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(request)
    ok = read_response(sock).startswith(b"HTTP/1.1 200")
    sock.close()
    return (time.perf_counter() - start) * 1000, ok


try:
    fresh_request_ms(); time.sleep(0.3)
    before = rss_kib()
    held = []
    for _ in range(a.n):
        sock = socket.create_connection(("127.0.0.1", port)); sock.sendall(request); held.append(sock)
    answered = sum(read_response(sock).startswith(b"HTTP/1.1 200") for sock in held)
    time.sleep(1)
    after = rss_kib()
    ms, ok = fresh_request_ms()
    time.sleep(5)
    still_open = 0
    for sock in held:
        sock.setblocking(False)
        try:
            still_open += sock.recv(1) != b""
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
    print(f"held {a.n}, answered {answered}, RSS {before} -> {after} KiB, "
          f"{(after - before) / a.n * 1024:.0f} bytes per connection, "
          f"fresh request {ms:.2f} ms{'' if ok else ' (FAILED)'}, still open after 5 s: {still_open}")
finally:
    server.terminate()
    server.wait()
