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


def wait_http(port, proc, what, timeout=20):
    """Wait until something answers HTTP on 127.0.0.1:port (any status)."""
    import urllib.error
    import urllib.request
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited with status {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).close()
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise AssertionError(f"{what} did not start")


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(root, prefix):
    """nginx serving directory `root` on a free loopback port, as one foreground process with its
    own configuration, logs and temp files below `prefix` (no system service). Returns
    (proc, base URL); stop it with stop(proc, signal.SIGQUIT)."""
    port = free_port()
    temps = "\n".join(f"    {t}_temp_path {prefix}/{t};" for t in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = f"""
daemon off;
master_process off;
error_log {prefix}/error.log;
pid {prefix}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    default_type application/octet-stream;
{temps}
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""
    with open(f"{prefix}/nginx.conf", "w") as f:
        f.write(conf)
    proc = subprocess.Popen([NGINX, "-p", str(prefix), "-c", f"{prefix}/nginx.conf", "-e", "stderr"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_http(port, proc, "nginx")
    return proc, f"http://127.0.0.1:{port}"


def start_moto(moto_server):
    """moto's S3 server on a free loopback port. Returns (proc, the AWS variables that point a
    client at it)."""
    port = free_port()
    proc = subprocess.Popen([str(moto_server), "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    wait_http(port, proc, "moto_server")
    return proc, {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}", "AWS_ACCESS_KEY_ID": "testing",
                  "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}
