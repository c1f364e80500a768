#!/usr/bin/env python3
"""Bytes and server CPU per request for a compressible answer, with no coding, gzip and brotli.

    cargo build --release -p carafe --example bench_server --features compression
    python3 bench/compression.py [--path /page] [--seconds 4] [--rounds 3] [BINARY]

Starts `bench_server --compress --workers 1` (pinned to CPU 0) and, for each coding in turn
within each round, runs wrk (one thread, 16 connections, pinned to CPU 1) with that
`Accept-Encoding`; the server's CPU time (utime + stime from /proc) over the run divided by
the requests served is its CPU per request. The bytes are the body curl receives (undecoded)
with the same header. Prints each round, then the medians.
"""
import argparse, os, re, statistics, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import serverproc  # noqa: E402

CODINGS = [("none", None), ("gzip", "gzip"), ("br", "br")]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def body_bytes(url, coding):
    command = ["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", url]
    if coding:
        command[1:1] = ["-H", f"Accept-Encoding: {coding}"]
    return int(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary", nargs="?", default="target/release/examples/bench_server")
    parser.add_argument("--path", default="/page")
    parser.add_argument("--seconds", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = serverproc.free_port()
    server = serverproc.start(
        ["taskset", "-c", "0", args.binary, "--addr", f"127.0.0.1:{port}", "--workers", "1",
         "--compress"], port)
    url = f"http://127.0.0.1:{port}{args.path}"
    results = {name: [] for name, _ in CODINGS}
    try:
        sizes = {name: body_bytes(url, coding) for name, coding in CODINGS}
        for round_index in range(args.rounds):
            for name, coding in CODINGS:
                command = ["taskset", "-c", "1", "wrk", "-t1", "-c16", f"-d{args.seconds}s", url]
                if coding:
                    command[4:4] = ["-H", f"Accept-Encoding: {coding}"]
                before = cpu_seconds(server.pid)
                output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
                used = cpu_seconds(server.pid) - before
                requests = int(re.search(r"(\d+) requests in", output).group(1))
                per_request = used / requests * 1e6
                results[name].append((requests / args.seconds, per_request))
                print(f"round {round_index + 1} {name:5}: {requests / args.seconds:9.0f} req/s, "
                      f"{per_request:6.2f} us CPU per request, {sizes[name]} bytes")
    finally:
        server.terminate()
        server.wait()
    print(f"\nmedians of {args.rounds} rounds, {args.path}:")
    print("| coding | body bytes | server CPU per request | req/s |")
    print("|---|---|---|---|")
    for name, _ in CODINGS:
        rate = statistics.median(r for r, _ in results[name])
        cpu = statistics.median(c for _, c in results[name])
        print(f"| {name} | {sizes[name]:,} | {cpu:.1f} µs | {rate:,.0f} |")


if __name__ == "__main__":
    main()
