#!/usr/bin/env python3
"""Memory per idle WebSocket, and whether they all still answer.

usage: python3 bench/idle_ws.py [-n 10000] [--path /ws/echo] BINARY [ARGS...]
BINARY is started with `--addr 127.0.0.1:PORT` appended (and the open-file limit raised).
N WebSockets each open with a handshake, send one small text message and read its echo,
then stay open and idle. Reports the server's RSS growth per open WebSocket (from /proc),
then sends one more message on every connection and counts the echoes.
"""
import argparse, base64, os, re, resource, socket, struct, time

import serverproc

ap = argparse.ArgumentParser()
ap.add_argument("-n", type=int, default=10000)
ap.add_argument("--path", default="/ws/echo")
ap.add_argument("command", nargs=argparse.REMAINDER)
a = ap.parse_args()
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
limit = a.n + 1000 if hard == resource.RLIM_INFINITY else min(a.n + 1000, hard)
resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))

port = serverproc.free_port()
server = serverproc.start(a.command + ["--addr", f"127.0.0.1:{port}"], port)


def rss_kib():
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{server.pid}/status").read()).group(1))


def handshake():
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {a.path} HTTP/1.1\r\nHost: bench\r\nConnection: Upgrade\r\n"
            f"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode()


def text_frame(payload):
    """A masked client text frame (payloads under 126 bytes)."""
    mask = os.urandom(4)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return bytes([0x81, 0x80 | len(payload)]) + mask + body


def read_until(sock, data, done):
    while not done(data):
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    return data


def open_socket():
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(handshake())
    head = read_until(sock, b"", lambda d: b"\r\n\r\n" in d)
    assert head.startswith(b"HTTP/1.1 101"), head[:100]
    return sock, head[head.index(b"\r\n\r\n") + 4:]


def echo(sock, rest, payload):
    sock.sendall(text_frame(payload))
    data = read_until(sock, rest, lambda d: len(d) >= 2 + len(payload))
    return data[2:2 + len(payload)] == payload


try:
    sock, rest = open_socket(); echo(sock, rest, b"warm up"); sock.close(); time.sleep(0.3)
    before = rss_kib()
    held = []
    for i in range(a.n):
        sock, rest = open_socket()
        assert echo(sock, rest, b"hello %d" % i)
        held.append(sock)
    time.sleep(1)
    after = rss_kib()
    answered = sum(echo(sock, b"", b"again") for sock in held)
    print(f"open {a.n} WebSockets, RSS {before} -> {after} KiB, "
          f"{(after - before) / a.n * 1024:.0f} bytes per idle WebSocket, "
          f"{answered} of {a.n} echoed a second message")
finally:
    server.terminate()
    server.wait()
