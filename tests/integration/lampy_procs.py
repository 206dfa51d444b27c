"""Process helpers shared by the integration tests: free loopback ports, stopping a server, and a
real redis-server on 127.0.0.1 (started for a test module, always stopped by its fixture)."""
import shutil
import signal
import socket
import subprocess
import time

REDIS = shutil.which("redis-server")


def free_port():
    """A port that was free a moment ago (redis-server cannot pick one itself)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, sig=signal.SIGTERM, timeout=20):
    """Signal proc, wait up to timeout seconds, then kill it; returns its exit status."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


def start_redis(workdir, timeout=15):
    """Start redis-server on a free loopback port; returns (proc, port) once it answers PING."""
    port = free_port()
    proc = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(64).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise AssertionError("redis-server did not start")
        time.sleep(0.025)
