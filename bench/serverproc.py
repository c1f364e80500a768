"""What the bench scripts share: starting the server under test on a free loopback port, stopping
it, and the CPU time it used."""
import os, signal, socket, subprocess, sys, time


def free_port():
    """A loopback port nothing listens on now (the kernel's pick for port 0)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def start(command, port, **popen_args):
    """Starts `command`, which listens on 127.0.0.1:`port`, and waits up to 10 s until that
    port accepts connections; exits the script if the server exits first or never listens.
    Its stderr is discarded unless `popen_args` says otherwise."""
    popen_args.setdefault("stderr", subprocess.DEVNULL)
    server = subprocess.Popen(command, **popen_args)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return server
        except OSError:
            if server.poll() is not None:
                sys.exit("server exited: " + " ".join(map(str, command)))
            time.sleep(0.1)
    server.kill()
    sys.exit("server did not listen: " + " ".join(map(str, command)))


def stop(server):
    """Stops a server started with `start_new_session=True`, its whole process group (nginx's
    and gunicorn's workers too): SIGTERM, then SIGKILL after 10 s."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def group_cpu_seconds(pgid):
    """User+system CPU seconds of every process in process group `pgid`, from /proc."""
    total = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.getpgid(int(pid)) != pgid:
                continue
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, ProcessLookupError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")
