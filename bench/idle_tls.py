#!/usr/bin/env python3
"""RSS per idle kept-alive TLS connection: N connections, each with a finished handshake and one answered request,
held open; the server's RSS before and after, divided by N. The server runs with one worker on CPU 0.

usage: bench/idle_tls.py [-n 2000] carafe|nginx
  carafe: target/release/examples/bench_server, built with `--features tls`
  nginx:  nginx with one process (`master_process off`), the same certificate (ECDSA P-256, made here)
The client is Python's ssl module (OpenSSL); raise `ulimit -n` above N first."""
import argparse, os, socket, ssl, subprocess, tempfile, time

NGINX = """worker_processes 1; daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/nginx.err warn;
events {{ worker_connections 19000; }}
http {{ access_log off; keepalive_timeout 60s; keepalive_requests 1000000;
  server {{ listen 127.0.0.1:{port} ssl; ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;
    location = /plaintext {{ default_type text/plain; return 200 "Hello, World!"; }} }} }}
"""

def main():
    ap = argparse.ArgumentParser(); ap.add_argument("-n", type=int, default=2000); ap.add_argument("server")
    a = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    d = tempfile.mkdtemp(prefix="idle-tls-")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", d + "/key.pem", "-out", d + "/cert.pem", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost"], check=True, capture_output=True)
    s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
    if a.server == "nginx":
        open(d + "/nginx.conf", "w").write(NGINX.format(d=d, port=port))
        argv = ["nginx", "-e", d + "/nginx.err", "-c", d + "/nginx.conf"]
    else:
        argv = [root + "/target/release/examples/bench_server", "--addr", "127.0.0.1:%d" % port, "--workers", "1",
                "--tls-cert", d + "/cert.pem", "--tls-key", d + "/key.pem"]
    p = subprocess.Popen(["taskset", "-c", "0"] + argv)
    try:
        for _ in range(100):
            try: socket.create_connection(("127.0.0.1", port)).close(); break
            except OSError: time.sleep(0.05)
        def rss():
            for line in open("/proc/%d/status" % p.pid):
                if line.startswith("VmRSS:"): return int(line.split()[1])
        ctx = ssl.create_default_context(cafile=d + "/cert.pem")
        def connect():
            c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
            c.sendall(b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\n\r\n")
            data = b""
            while not data.endswith(b"Hello, World!"): data += c.recv(4096)
            return c
        warm = [connect() for _ in range(50)]  # the server's first allocations, not counted
        before = rss()
        held = [connect() for _ in range(a.n)]
        time.sleep(0.5)
        after = rss()
        print("%s: %d idle TLS connections, RSS %d KiB -> %d KiB: %.2f KiB per connection"
              % (a.server, a.n, before, after, (after - before) / a.n))
        del warm, held
    finally:
        p.terminate(); p.wait()

if __name__ == "__main__":
    main()
