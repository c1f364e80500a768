"""What the bench scripts share: starting the server under test on a free loopback port."""
import socket, subprocess, time


def free_port():
    """A loopback port nothing listens on now (the kernel's pick for port 0)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def start(command, port, **popen_args):
    """Starts `command`, which listens on 127.0.0.1:`port`, and waits up to 10 s until that
    port accepts connections. Its stderr is discarded unless `popen_args` says otherwise."""
    popen_args.setdefault("stderr", subprocess.DEVNULL)
    server = subprocess.Popen(command, **popen_args)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.1)
    return server
