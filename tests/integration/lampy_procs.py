"""Process helpers shared by the integration tests: free loopback ports, stopping a server, a
real redis-server on 127.0.0.1 (started for a test module, always stopped by its fixture),
nginx and moto's S3 server, `lampy store` / `lampy worker` processes with a small HTTP client,
and running the CLI.

Binaries: LAMPY_BIN (default build/lampy); test programs and liblampy.so are found beside it.
"""
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
REDIS_CLI = shutil.which("redis-cli")

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


class RedisConn:
    """A minimal client of Redis's protocol (RESP2) on 127.0.0.1:port, for tests that look at
    the store directly (independent of Lampy's hiredis client, and fast enough to poll)."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def __call__(self, *args):
        parts = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            parts.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(parts))
        return self._reply()

    def _reply(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise AssertionError(f"redis: {rest.decode()}")
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self.f.read(int(rest) + 2)[:-2]
        if kind == b"*":
            return None if int(rest) < 0 else [self._reply() for _ in range(int(rest))]
        raise AssertionError(f"redis: unexpected reply {line!r}")

    def close(self):
        self.f.close()
        self.sock.close()


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


class LampyServer:
    """`lampy store ...` or `lampy worker ...` on a free port, once it says "listening on".
    tls_ca: the CA file to verify an https:// server with."""

    def __init__(self, *args, env=None, tls_ca=None):
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([str(LAMPY), *map(str, args), "--port", "0"], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=e)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        m = re.fullmatch(r"listening on ((https?)://127\.0\.0\.1:(\d+))\n", line)
        if not m:
            stop(self.proc)
            raise AssertionError(f"no 'listening on' line: {line!r}: {self.proc.stderr.read()}")
        self.url, self.port = m.group(1), int(m.group(3))
        self.ctx = ssl.create_default_context(cafile=str(tls_ca)) if m.group(2) == "https" else None

    def request(self, method, path, body=b"", headers=None, timeout=30):
        c = (http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=self.ctx) if self.ctx
             else http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout))
        try:
            c.request(method, path, body=body or None, headers=headers or {})
            r = c.getresponse()
            return r.status, r.read()
        finally:
            c.close()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)  # a test may have stopped it
        rc = stop(self.proc, sig)
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        return rc


@pytest.fixture
def servers():
    """Start LampyServers for one test (servers("worker", "--key-file", k, ...)); all are stopped
    afterwards (resumed first if a test stopped them)."""
    started = []

    def start(*args, **kw):
        s = LampyServer(*args, **kw)
        started.append(s)
        return s

    try:
        yield start
    finally:
        for s in started:
            s.stop()


class Redis:
    def __init__(self, workdir: Path):
        self.proc, self.port = start_redis(workdir)
        self.url = f"redis://127.0.0.1:{self.port}"

    def cli(self, *args):
        r = subprocess.run([REDIS_CLI, "-p", str(self.port), *args], capture_output=True, text=True)
        return r.stdout.strip()

    def command(self, *args):
        """One command on a kept connection (RESP, no process per call): for tests that act on
        Redis while a run goes on. Returns str, int, None or a list of those."""
        if not getattr(self, "_sock", None):
            self._sock = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            self._buf = self._sock.makefile("rb")
        parts = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self._sock.sendall(b"*%d\r\n" % len(parts) + b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts))
        return self._reply()

    def _reply(self):
        line = self._buf.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self._buf.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def dbsize(self):
        return int(self.cli("DBSIZE"))

    def stop(self):
        if getattr(self, "_sock", None):
            self._sock.close()
        stop(self.proc)


class Worker:
    def __init__(self, *extra, logdir: Path, env=None):
        assert LAMPY.exists(), f"{LAMPY} does not exist: build first, or set LAMPY_BIN"
        self.errpath = logdir / f"worker-{time.monotonic_ns()}.stderr"
        self.errlog = open(self.errpath, "w+")
        self.proc = subprocess.Popen([str(LAMPY), "worker", "--port", "0", *extra], stdout=subprocess.PIPE,
                                     stderr=self.errlog, text=True, env=dict(os.environ, **(env or {})))
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        if not m:
            stop(self.proc)
            raise AssertionError(f"no 'listening on' line: {line!r}; stderr: {self.errpath.read_text()}")
        self.url, self.port = m.group(1), int(m.group(2))

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def run(self, batch, name="lampy"):
        body = batch if isinstance(batch, (bytes, str)) else json.dumps(batch)
        status, headers, data = self.request("POST", f"/run/{name}", body, {"Content-Type": "application/json"})
        try:
            return status, json.loads(data)
        except ValueError:
            return status, data

    def stats(self):
        return json.loads(self.request("GET", "/stats")[2])

    def assert_ready(self):
        assert self.proc.poll() is None, "the worker exited: " + self.errpath.read_text()
        status, _, body = self.request("GET", "/status")
        assert (status, body) == (200, b"ready")

    def stop(self, sig=signal.SIGTERM):
        rc = stop(self.proc, sig)
        self.proc.stdout.close()
        self.errlog.close()
        return rc


def lampy(*args, env=None, timeout=600):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([str(LAMPY), *map(str, args)], capture_output=True, text=True, env=e, timeout=timeout)


def same_array(a, b):
    """Bit for bit, NaNs included."""
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_as_local(tmp_path, expr, names, opts, remote):
    """`lampy eval` of expr locally and with the remote arguments: the same bits."""
    import numpy as np
    loc = lampy("eval", expr, *names, *opts, "-o", tmp_path / "local.npy")
    assert loc.returncode == 0, loc.stderr
    rem = lampy("eval", expr, *names, *opts, "-o", tmp_path / "remote.npy", *remote)
    assert rem.returncode == 0, rem.stderr
    assert same_array(np.load(tmp_path / "local.npy"), np.load(tmp_path / "remote.npy"))


def assert_error_as_local(expr, names, remote, message):
    """A kernel's own error comes back from the workers with its message, as locally."""
    loc = lampy("eval", expr, *names)
    rem = lampy("eval", expr, *names, *remote)
    assert loc.returncode == rem.returncode == 1
    assert message in loc.stderr and message in rem.stderr, (loc.stderr, rem.stderr)


def assert_fisher_as_local(tmp_path, remote, rows, features, classes, chunk_rows):
    """Fisher LDA fits (both shrinkages) and predictions with the remote arguments give the
    local executor's model and label bits."""
    import re
    import numpy as np
    g = lampy("gen", "--rows", rows, "--features", features, "--classes", classes, "--seed", 3, "-o", tmp_path)
    assert g.returncode == 0, g.stderr
    X, y = tmp_path / "X.npy", tmp_path / "y.npy"
    for shrink in ("none", "auto"):
        fit = lambda model, *extra: lampy("fisher", X, y, "--shrinkage", shrink, "--chunk-rows", chunk_rows, "--save",
                                          tmp_path / model, *extra)
        loc, rem = fit("m_local.npy"), fit("m_remote.npy", *remote)
        assert loc.returncode == 0 and rem.returncode == 0, loc.stderr + rem.stderr
        assert (tmp_path / "m_local.npy").read_bytes() == (tmp_path / "m_remote.npy").read_bytes()
        acc = lambda out: re.search(r"accuracy\s+(\S+)", out).group(1)
        assert acc(loc.stdout) == acc(rem.stdout)
    for out, extra in (("yhat_l.npy", []), ("yhat_r.npy", remote)):
        p = lampy("predict", tmp_path / "m_local.npy", X, "-o", tmp_path / out, "--chunk-rows", chunk_rows + 2000, *extra)
        assert p.returncode == 0, p.stderr
    assert same_array(np.load(tmp_path / "yhat_l.npy"), np.load(tmp_path / "yhat_r.npy"))


def finish(proc, timeout=240):
    """The output of a run started with Popen; killed if it is not done in time."""
    try:
        return proc.communicate(timeout=timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def wait_until(cond, timeout=60):
    """Poll cond until it holds (True) or timeout seconds have passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.005)
    return False
