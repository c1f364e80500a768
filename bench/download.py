#!/usr/bin/env python3
"""Download throughput of a large static file over loopback, and the server's memory meanwhile.

usage: python3 bench/download.py [--size-mib 100] [--runs 5] [BINARY]
BINARY (default target/release/example-app, built by `cargo build --release -p example-app`)
serves a temporary folder holding one file of --size-mib MiB with
`--static DIR --addr 127.0.0.1:PORT --workers 1`. curl downloads it --runs times to /dev/null;
the server's RSS (VmRSS in /proc/PID/status) is sampled every 5 ms meanwhile. Prints each
download's speed, the median in GiB/s, and the peak RSS growth over the RSS before the first
download. Files over 256 KiB are streamed from disk 64 KiB at a time as the socket drains, so
memory should stay flat whatever the size. Server pinned to CPU 0 and curl to CPU 1 where
taskset is there and the machine has two CPUs, as the peer harness does.
"""
import argparse, os, shutil, statistics, subprocess, tempfile, threading, time

import serverproc

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--size-mib", type=int, default=100)
ap.add_argument("--runs", type=int, default=5)
ap.add_argument("binary", nargs="?", default="target/release/example-app")
a = ap.parse_args()

pin = shutil.which("taskset") is not None and os.cpu_count() >= 2
server_pin = ["taskset", "-c", "0"] if pin else []
client_pin = ["taskset", "-c", "1"] if pin else []


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


with tempfile.TemporaryDirectory(prefix="carafe-download-") as folder:
    size = a.size_mib * 1024 * 1024
    block = os.urandom(1024 * 1024)  # Incompressible, written whole: no sparse file.
    with open(os.path.join(folder, "big.bin"), "wb") as file:
        for _ in range(a.size_mib):
            file.write(block)
    port = serverproc.free_port()
    url = f"http://127.0.0.1:{port}/static/big.bin"
    server = serverproc.start(
        server_pin + [a.binary, "--static", folder, "--addr", f"127.0.0.1:{port}", "--workers", "1"],
        port,
        env={**os.environ, "RUST_LOG": "warn"},
    )
    try:
        # One small request first, so that lazy start-up allocations are in the baseline.
        subprocess.run(["curl", "-s", "-o", "/dev/null", "-r", "0-0", url], check=True)
        time.sleep(0.2)
        baseline = rss_kib(server.pid)
        peak = baseline
        sampling = True

        def sample():
            global peak
            while sampling:
                peak = max(peak, rss_kib(server.pid))
                time.sleep(0.005)

        sampler = threading.Thread(target=sample)
        sampler.start()
        speeds = []
        try:
            for run in range(a.runs):
                result = subprocess.run(
                    client_pin
                    + ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download} %{speed_download}", url],
                    check=True,
                    capture_output=True,
                    text=True,
                )
                code, downloaded, speed = result.stdout.split()
                assert code == "200" and int(downloaded) == size, f"bad download: {result.stdout}"
                speeds.append(float(speed) / 2**30)
                print(f"run {run + 1}: {speeds[-1]:.2f} GiB/s")
        finally:
            sampling = False
            sampler.join()
        print(
            f"{a.size_mib} MiB file, {a.runs} downloads: median {statistics.median(speeds):.2f} GiB/s "
            f"(min {min(speeds):.2f}, max {max(speeds):.2f}); server RSS {baseline / 1024:.1f} MiB before, "
            f"peak {peak / 1024:.1f} MiB, growth {(peak - baseline) / 1024:.1f} MiB"
            + (" (server on CPU 0, curl on CPU 1)" if pin else "")
        )
    finally:
        server.terminate()
        server.wait()
