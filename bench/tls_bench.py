#!/usr/bin/env python3
"""HTTPS beside nginx: one worker each, the same certificate (ECDSA P-256, made here with openssl), each server
pinned to CPU 0 and the load to CPU 1, servers interleaved round by round.

usage: bench/tls_bench.py [--rounds 5] [--duration 4] [--conns 64] [--out FILE]
needs: `cargo build --release -p carafe --example bench_server --features tls`, nginx, wrk, openssl, taskset

Per round and server, four loads on `/plaintext`:
  keep-alive   wrk -t1 -c CONNS over kept-alive TLS connections: requests/s and server CPU per request;
  pipelined    the same with 16 requests per write (../shared/bench/pipeline.lua), so the server, not wrk, is the limit;
  close        wrk -t1 -c 16 with `Connection: close`: a TLS handshake per request, as wrk makes them
               (it keeps its OpenSSL object between connections, so it may resume a session);
  s_time -new  `openssl s_time -new`: one full handshake (no resumption) and one request per connection,
               one at a time: connections/s and server CPU per connection.
Server CPU is user+system of the server's whole process group, from /proc. Prints a Markdown table of the
medians and writes every raw output to --out."""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serverproc import free_port, group_cpu_seconds as cpu_seconds, stop  # noqa: E402
import serverproc  # noqa: E402

NGINX = """worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx.err warn;
events {{ worker_connections 19000; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_certificate {dir}/cert.pem;
    ssl_certificate_key {dir}/key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location = /plaintext {{ default_type text/plain; return 200 "Hello, World!"; }}
  }}
}}
"""

def start(name, port, d, root):
    if name == "nginx":
        conf = os.path.join(d, "nginx.conf")
        open(conf, "w").write(NGINX.format(dir=d, port=port))
        argv = ["nginx", "-e", os.path.join(d, "nginx.err"), "-c", conf]
    else:
        argv = [os.path.join(root, "target/release/examples/bench_server"), "--addr", "127.0.0.1:%d" % port,
                "--workers", "1", "--tls-cert", os.path.join(d, "cert.pem"), "--tls-key", os.path.join(d, "key.pem")]
    return serverproc.start(["taskset", "-c", "0"] + argv, port, stdout=subprocess.DEVNULL,
                            start_new_session=True)

PIPELINE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "bench", "pipeline.lua")

def wrk(port, conns, dur, pgid, close, depth=None):
    extra = ["-H", "Connection: close"] if close else []
    tail = ["--", str(depth)] if depth else []
    if depth: extra += ["-s", PIPELINE]
    c0 = cpu_seconds(pgid)
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % conns, "-d%ds" % dur] + extra
                         + ["https://127.0.0.1:%d/plaintext" % port] + tail, capture_output=True, text=True).stdout
    cpu = cpu_seconds(pgid) - c0
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Socket errors:.*|Non-2xx.*", out)
    if not m or not total: raise SystemExit("wrk failed:\n" + out)
    return float(m.group(1)), cpu / max(int(total.group(1)), 1), out, errors.group(0) if errors else ""

def s_time(port, dur, pgid):
    c0 = cpu_seconds(pgid); t0 = time.monotonic()
    r = subprocess.run(["taskset", "-c", "1", "openssl", "s_time", "-connect", "127.0.0.1:%d" % port, "-new",
                        "-time", str(dur), "-www", "/plaintext"], capture_output=True, text=True)
    cpu = cpu_seconds(pgid) - c0; wall = time.monotonic() - t0
    # s_time's own rate is per second of the client's user CPU; the wall clock is the one to use.
    m = re.search(r"(\d+) connections in \d+ real seconds", r.stdout)
    if not m: raise SystemExit("s_time failed:\n" + r.stdout + r.stderr)
    conns = int(m.group(1))
    return conns / wall, cpu / max(conns, 1), r.stdout + "(%.2f s of wall clock)\n" % wall

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5); ap.add_argument("--duration", type=int, default=4)
    ap.add_argument("--conns", type=int, default=64); ap.add_argument("--out", default=None)
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = tempfile.mkdtemp(prefix="tls-bench-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", os.path.join(d, "key.pem"), "-out", os.path.join(d, "cert.pem"), "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    raw = open(a.out, "w") if a.out else sys.stdout
    results = {}
    for rnd in range(a.rounds):
        for name in (["carafe", "nginx"] if rnd % 2 == 0 else ["nginx", "carafe"]):
            port = free_port(); p = start(name, port, d, root)
            try:
                # What each side negotiates, once.
                if rnd == 0:
                    info = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-alpn", "http/1.1"],
                                          input="", capture_output=True, text=True).stdout
                    raw.write("## %s negotiates\n%s\n" % (name, "\n".join(l for l in info.splitlines()
                              if re.search(r"^New,|Protocol  :|Cipher    :|ALPN|Server Temp Key", l))))
                ka = wrk(port, a.conns, a.duration, p.pid, False)
                pl = wrk(port, a.conns, a.duration, p.pid, False, depth=16)
                cl = wrk(port, 16, a.duration, p.pid, True)
                st = s_time(port, a.duration, p.pid)
            finally:
                stop(p)
            for key, val in (("keep-alive req/s", ka[0]), ("keep-alive CPU us/req", ka[1] * 1e6),
                             ("pipelined x16 req/s", pl[0]), ("pipelined x16 CPU us/req", pl[1] * 1e6),
                             ("close req/s", cl[0]), ("close CPU us/req", cl[1] * 1e6),
                             ("s_time -new conn/s", st[0]), ("s_time -new CPU us/conn", st[1] * 1e6)):
                results.setdefault((name, key), []).append(val)
            raw.write("## round %d %s keep-alive, 16 pipelined per write (-c%d)\n%s%s\n" % (rnd + 1, name, a.conns, pl[2], pl[3]))
            raw.write("## round %d %s keep-alive (-c%d)\n%s%s\n## round %d %s Connection: close (-c16)\n%s%s\n## round %d %s s_time -new\n%s\n"
                      % (rnd + 1, name, a.conns, ka[2], ka[3], rnd + 1, name, cl[2], cl[3], rnd + 1, name, st[2]))
            raw.flush()
    keys = ["keep-alive req/s", "keep-alive CPU us/req", "pipelined x16 req/s", "pipelined x16 CPU us/req", "close req/s", "close CPU us/req", "s_time -new conn/s",
            "s_time -new CPU us/conn"]
    table = ["| load | carafe | nginx | carafe / nginx |", "|---|---|---|---|"]
    for key in keys:
        c = statistics.median(results[("carafe", key)]); n = statistics.median(results[("nginx", key)])
        table.append("| %s | %s | %s | %.2f |" % (key, "{:,.0f}".format(c) if c >= 100 else "%.1f" % c,
                                                 "{:,.0f}".format(n) if n >= 100 else "%.1f" % n, c / n))
    text = "\n".join(table) + "\n\nmedians of %d rounds of %d s; all rounds: %s\n" % (
        a.rounds, a.duration, {"%s %s" % k: [round(v, 1) for v in vs] for k, vs in results.items()})
    print(text)
    if a.out: raw.write("\n" + text); raw.close()

if __name__ == "__main__":
    main()
