"""The chunk store against real servers: `lampy store` and redis-server, on 127.0.0.1.

Round trips go through tests/c/store_client (the C backends: http:// and redis://); hostile
input goes to the store server over raw sockets and http.client. After every bad request the
server must still answer /status, and nothing may appear outside (or half-written inside) the
store directory.

Binaries: LAMPY_BIN (default build/lampy) and LAMPY_STORE_CLIENT (default: tests/c/store_client
in the same build directory).
"""
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from lampy_procs import REDIS, free_port, start_redis, stop

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
STORE_CLIENT = Path(os.environ.get("LAMPY_STORE_CLIENT", LAMPY.parent / "tests" / "c" / "store_client"))
HDR = 96


def _need(path):
    if not path.exists():
        pytest.fail(f"{path} does not exist: build first (meson/ninja), or set LAMPY_BIN")


class StoreServer:
    def __init__(self, parent: Path, *extra):
        _need(LAMPY)
        self.parent = parent
        self.dir = parent / "store"
        self.errlog = open(parent / "store.stderr", "w+")
        self.proc = subprocess.Popen(
            [str(LAMPY), "store", "--dir", str(self.dir), "--port", "0", *extra],
            stdout=subprocess.PIPE, stderr=self.errlog, text=True)
        ready, _, _ = select.select([self.proc.stdout], [], [], 15)
        line = self.proc.stdout.readline() if ready else ""
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        if not m:
            stop(self.proc, timeout=10)
            self.errlog.seek(0)
            raise AssertionError(f"no 'listening on' line: {line!r}; stderr: {self.errlog.read()}")
        self.url, self.port = m.group(1), int(m.group(2))

    def stop(self):
        rc = stop(self.proc, timeout=10)
        self.proc.stdout.close()
        self.errlog.close()
        return rc

    def stderr(self):
        self.errlog.flush()
        return (self.parent / "store.stderr").read_text()

    def request(self, method, path, body=None, headers=None):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15)
        try:
            c.request(method, path, body=body, headers=headers or {})
            r = c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        finally:
            c.close()

    def assert_ready(self):
        assert self.proc.poll() is None, "the store server exited"
        status, _, body = self.request("GET", "/status")
        assert (status, body) == (200, b"ready")

    def files(self):
        """Every path below the store directory (relative), files and directories."""
        return sorted(str(p.relative_to(self.dir)) for p in self.dir.rglob("*"))

    def temp_files(self):
        return [p for p in self.files() if "#" in p]


@pytest.fixture
def store(tmp_path):
    sentinel = tmp_path / "outside"
    sentinel.mkdir()
    (sentinel / "secret").write_bytes(b"do not touch")
    srv = StoreServer(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()
    # nothing was created next to the store directory, nothing outside was changed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["outside", "store", "store.stderr"]
    assert [p.name for p in sentinel.iterdir()] == ["secret"]
    assert (sentinel / "secret").read_bytes() == b"do not touch"


@pytest.fixture
def small_store(tmp_path):
    """A store server that accepts chunks of at most 1000 data bytes."""
    srv = StoreServer(tmp_path, "--max-chunk-bytes", "1000")
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    assert REDIS, "redis-server is installed by scripts/deps.sh"
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop(proc, timeout=10)


def sc(*args, check=True):
    _need(STORE_CLIENT)
    r = subprocess.run([str(STORE_CLIENT), *map(str, args)], capture_output=True, timeout=120)
    if check and r.returncode != 0:
        raise AssertionError(f"store_client {args}: rc {r.returncode}: {r.stderr.decode()}")
    return r


def encode(dtype, shape, seed=1):
    """The bytes of a chunk (header + data), as a PUT body."""
    return sc("encode", dtype, shape, seed).stdout


def resp_get(url, key):
    """GET a raw Redis value with a minimal RESP exchange."""
    host, port = url[len("redis://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        k = key.encode()
        s.sendall(b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(k), k))
        f = s.makefile("rb")
        line = f.readline()
        assert line.startswith(b"$"), line
        n = int(line[1:])
        return None if n < 0 else f.read(n)


# ---- round trips ------------------------------------------------------------------------------

def test_status_ready(store):
    store.assert_ready()
    status, headers, _ = store.request("HEAD", "/status")
    assert status == 200


def test_selftest_http(store):
    r = sc("selftest", store.url)
    assert b"0 failed" in r.stdout
    assert store.temp_files() == []
    store.assert_ready()


def test_selftest_redis(redis_url):
    r = sc("selftest", redis_url + "/1")
    assert b"0 failed" in r.stdout


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
def test_roundtrip_http_is_the_file_format(store, dtype):
    out = sc("put", store.url, f"rt/{dtype}", dtype, "3x5", 7).stdout.decode()
    assert sc("get", store.url, f"rt/{dtype}").stdout.decode() == out
    assert sc("head", store.url, f"rt/{dtype}").stdout.decode() == out
    assert out.startswith(f"dtype={dtype} shape=(3, 5) ")
    # what the server stored is exactly the chunk bytes
    assert (store.dir / "rt" / dtype).read_bytes() == encode(dtype, "3x5", 7)
    assert sc("exists", store.url, f"rt/{dtype}").stdout == b"yes\n"
    sc("del", store.url, f"rt/{dtype}")
    assert sc("exists", store.url, f"rt/{dtype}").stdout == b"no\n"
    assert sc("get", store.url, f"rt/{dtype}", check=False).returncode == 3


@pytest.mark.parametrize("dtype", ["bool", "int32", "int64", "float32", "float64"])
def test_roundtrip_redis_is_the_file_format(redis_url, dtype):
    key = f"rt/{dtype}"
    out = sc("put", redis_url, key, dtype, "4x2x3", 9).stdout.decode()
    assert sc("get", redis_url, key).stdout.decode() == out
    assert sc("head", redis_url, key).stdout.decode() == out
    assert resp_get(redis_url, key) == encode(dtype, "4x2x3", 9)
    data = encode(dtype, "4x2x3", 9)[HDR:]
    assert sc("range", redis_url, key, 2, 5).stdout.decode().strip() == data[2:7].hex()
    sc("del", redis_url, key)
    assert resp_get(redis_url, key) is None
    assert sc("del", redis_url, key, check=False).returncode == 3


def test_redis_database_and_foreign_values(redis_url):
    sc("put", redis_url + "/2", "db/k", "int32", "10")
    assert sc("exists", redis_url + "/3", "db/k").stdout == b"no\n"
    assert sc("exists", redis_url + "/2", "db/k").stdout == b"yes\n"
    # a value that is not a chunk is reported, not trusted
    with socket.create_connection(("127.0.0.1", int(redis_url.rsplit(":", 1)[1])), timeout=10) as s:
        s.sendall(b"*3\r\n$3\r\nSET\r\n$7\r\nforeign\r\n$5\r\nhello\r\n")
        assert s.recv(16).startswith(b"+OK")
        s.sendall(b"*3\r\n$5\r\nLPUSH\r\n$4\r\nlist\r\n$1\r\nx\r\n")
        assert s.recv(16).startswith(b":")
    r = sc("get", redis_url, "foreign", check=False)
    assert r.returncode == 4 and b"shorter than the chunk header" in r.stderr
    r = sc("get", redis_url, "list", check=False)
    assert r.returncode == 4 and b"WRONGTYPE" in r.stderr


def test_redis_unreachable():
    r = sc("get", f"redis://127.0.0.1:{free_port()}", "k", check=False)
    assert r.returncode == 1 and b"connect" in r.stderr


def test_http_range_reads(store):
    sc("put", store.url, "r", "float64", "100", 3)
    data = encode("float64", "100", 3)[HDR:]
    assert sc("range", store.url, "r", 0, 8).stdout.decode().strip() == data[:8].hex()
    assert sc("range", store.url, "r", 792, 8).stdout.decode().strip() == data[792:].hex()
    r = sc("range", store.url, "r", 795, 8, check=False)
    assert r.returncode == 1 and b"outside its 800 data bytes" in r.stderr


def test_corruption_on_disk_is_detected(store):
    sc("put", store.url, "c/k", "int64", "64")
    p = store.dir / "c" / "k"
    raw = bytearray(p.read_bytes())
    raw[HDR + 100] ^= 0x01
    p.write_bytes(bytes(raw))
    r = sc("get", store.url, "c/k", check=False)
    assert r.returncode == 4
    assert re.search(rb"chunk c/k: checksum mismatch \(stored 0x[0-9a-f]{16}, computed 0x[0-9a-f]{16}\)",
                     r.stderr), r.stderr


# ---- hostile input ----------------------------------------------------------------------------

BAD_PATHS = [
    "/chunks/..", "/chunks/../x", "/chunks/a/../../x", "/chunks/a/..", "/chunks//etc/passwd",
    "/chunks/./x", "/chunks/..%2f..%2foutside%2fsecret", "/chunks/%2e%2e/outside/secret",
    "/chunks/a%00b", "/chunks/a%2fb", "/chunks/", "/chunks/a/", "/chunks/a//b",
    "/chunks/" + "a" * 201, "/chunks/a~b", "/chunks/a:b", "/chunks/a%20b",
]


@pytest.mark.parametrize("path", BAD_PATHS)
def test_invalid_keys(store, path):
    body = encode("int32", "4")
    for method, b in [("GET", None), ("HEAD", None), ("DELETE", None), ("PUT", body)]:
        status, headers, reply = store.request(method, path, body=b)
        assert status == 400, (method, path, status, reply)
        if method != "HEAD":
            assert headers["Content-Type"] == "application/json"
            assert b'"error"' in reply and b"invalid chunk key" in reply
    assert store.files() == []
    store.assert_ready()


def test_traversal_with_raw_request_line(store):
    # send the request line byte for byte: no client-side normalisation
    for target in [b"/chunks/../outside/secret", b"/chunks/%2e%2e/outside/secret",
                   b"/chunks/a/%2e%2e/%2e%2e/outside/secret", b"/chunks/\xc3\xa9",
                   b"/chunks/a\\..\\..\\x"]:
        with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 400"), reply[:80]
        assert b"do not touch" not in reply
    store.assert_ready()


def test_half_closed_connections_are_released(store):
    # a client that shuts its write side after the request gets the reply and then the close,
    # at once: the server must not keep such a connection until its idle timeout (a race in
    # libmicrohttpd's epoll mode did, for 6-30% of them, found by tests/fuzz/fuzz_http.c)
    for i in range(60):
        target = [b"/status", b"/chunks/nokey", b"/chunks/../x"][i % 3]
        with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
            s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(4096):   # the timeout of 10 s raises if the close never comes
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    store.assert_ready()


def test_symlinks_are_not_followed(store, tmp_path):
    outside = tmp_path / "outside"
    chunk = encode("int32", "4")
    (outside / "secret").write_bytes(b"do not touch")
    sc("put", store.url, "seed", "int32", "1")           # makes the store directory
    (store.dir / "ln").symlink_to(outside / "secret")
    (store.dir / "lndir").symlink_to(outside)
    try:
        for path in ["/chunks/ln", "/chunks/lndir/secret"]:
            assert store.request("GET", path)[0] == 404
            assert store.request("DELETE", path)[0] == 404
        status, _, reply = store.request("PUT", "/chunks/lndir/planted", body=chunk)
        assert status == 400, reply
        assert b"not a directory" in reply
        assert store.temp_files() == []
    finally:
        (store.dir / "ln").unlink()
        (store.dir / "lndir").unlink()
    store.assert_ready()


def test_oversized_body_is_refused_before_it_is_read(small_store):
    with socket.create_connection(("127.0.0.1", small_store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/big HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000\r\n\r\n")
        s.settimeout(10)
        reply = s.recv(4096)  # answered without us sending a byte of the body
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    assert b"exceeds the store's limit of 96 + 1000" in reply
    # also with Expect: 100-continue, the way curl uploads big bodies: no "100 Continue" comes
    with socket.create_connection(("127.0.0.1", small_store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/big HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    # a chunked body without Content-Length is cut off at the limit
    with socket.create_connection(("127.0.0.1", small_store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        blob = encode("int32", "1000")
        try:
            for i in range(0, len(blob), 500):
                part = blob[i:i + 500]
                s.sendall(b"%x\r\n%s\r\n" % (len(part), part))
            s.sendall(b"0\r\n\r\n")
        except OSError:
            pass
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:80]
    # within the limit is fine
    assert small_store.request("PUT", "/chunks/ok", body=encode("int32", "250"))[0] == 201
    assert small_store.files() == ["ok"]
    small_store.assert_ready()


def wait_no_temp(srv, timeout=5):
    deadline = time.monotonic() + timeout
    while srv.temp_files() and time.monotonic() < deadline:
        time.sleep(0.05)
    return srv.temp_files()


@pytest.mark.parametrize("sent", [10, HDR, HDR + 100])
def test_truncated_upload_writes_nothing(store, sent):
    body = encode("int32", "226")  # 96 + 904 = 1000 bytes
    with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/trunc HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
        s.sendall(body[:sent])
        time.sleep(0.2)  # let the server write what it got to its temp file
    assert wait_no_temp(store) == []
    assert "trunc" not in store.files()
    store.assert_ready()
    # and the key is still usable
    assert store.request("PUT", "/chunks/trunc", body=body)[0] == 201
    assert store.request("GET", "/chunks/trunc")[2] == body


def test_malformed_chunks(store):
    good = encode("float32", "5x5", 4)
    cases = {
        "bad magic": b"XPCK" + good[4:],
        "header checksum": good[:7] + b"\x03" + good[8:],        # ndim changed
        "header checksum ": good[:20] + b"\xff" + good[21:],     # a dimension changed
        "shorter than the 96-byte chunk header": good[:50],
        "body is longer than its header says": None,             # sent raw below
        "checksum mismatch": good[:HDR + 10] + bytes([good[HDR + 10] ^ 0x80]) + good[HDR + 11:],
        "does not match its header": good[:HDR],                 # Content-Length says 96
    }
    for what, body in cases.items():
        if body is None:
            continue
        status, headers, reply = store.request("PUT", "/chunks/m", body=body)
        assert status == 400, (what, status, reply)
        assert what.strip().encode() in reply or (what.startswith("header checksum") and
                                                  b"header checksum mismatch" in reply), (what, reply)
        assert headers["Content-Type"] == "application/json"
        assert store.files() == [], what
        store.assert_ready()
    # Content-Length agrees with the body but not with the header: longer than the chunk
    status, _, reply = store.request("PUT", "/chunks/m", body=good + b"extra")
    assert status == 400 and b"does not match its header" in reply
    assert store.files() == []
    # a checksum mismatch message names both sums
    status, _, reply = store.request("PUT", "/chunks/m", body=cases["checksum mismatch"])
    assert re.search(rb"chunk m: checksum mismatch \(stored 0x[0-9a-f]{16}, computed 0x[0-9a-f]{16}\)", reply)
    # an empty body and no body at all
    assert store.request("PUT", "/chunks/m", body=b"")[0] == 400
    with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/m HTTP/1.1\r\nHost: x\r\nContent-Length: 12x\r\n\r\n")
        assert s.recv(4096).startswith(b"HTTP/1.1 400")
    assert store.files() == []
    store.assert_ready()


def test_malformed_chunk_with_chunked_encoding(store):
    good = encode("int64", "20")
    with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/tc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        body = good + b"more"  # longer than the header says, no Content-Length to catch it
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b"longer than its header says" in reply
    with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/tc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        body = good[:-8]  # shorter than the header says
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        reply = s.recv(4096)
    assert reply.startswith(b"HTTP/1.1 400") and b"bytes but its header says 96 + 160" in reply
    assert store.files() == []
    with socket.create_connection(("127.0.0.1", store.port), timeout=10) as s:
        s.sendall(b"PUT /chunks/tc HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        s.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(good), good))
        assert s.recv(4096).startswith(b"HTTP/1.1 201")
    assert store.files() == ["tc"]
    store.assert_ready()


def test_unsupported_methods(store):
    sc("put", store.url, "k", "int32", "3")
    for method in ["POST", "PATCH", "OPTIONS", "PROPFIND", "TRACE"]:
        status, headers, reply = store.request(method, "/chunks/k", body=b"x")
        assert status == 405, (method, status)
        assert headers["Allow"] == "GET, HEAD, PUT, DELETE"
        assert b'"error"' in reply
    for method in ["PUT", "DELETE", "POST"]:
        status, headers, _ = store.request(method, "/status", body=b"x")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert store.request("GET", "/nowhere")[0] == 404
    assert store.request("GET", "/chunks")[0] == 404
    assert store.files() == ["k"]
    store.assert_ready()


def test_range_edge_cases(store):
    body = encode("int32", "25")          # 96 + 100 = 196 bytes
    assert store.request("PUT", "/chunks/r", body=body)[0] == 201
    n = len(body)

    def get(rng, method="GET"):
        return store.request(method, "/chunks/r", headers={"Range": rng})

    for rng, lo, hi in [("bytes=0-0", 0, 0), ("bytes=0-", 0, n - 1), ("bytes=-10", n - 10, n - 1),
                        ("bytes=-100000", 0, n - 1), ("bytes=100-99999", 100, n - 1),
                        ("bytes=195-195", 195, 195), ("bytes= 5-9", 5, 9), ("BYTES=5-9", 5, 9),
                        # RFC 9110 14.1.2: a last-byte-pos past the end (even past 2^64) is clamped
                        ("bytes=0-18446744073709551615", 0, n - 1), ("bytes=7-99999999999999999999999", 7, n - 1),
                        ("bytes=-18446744073709551616", 0, n - 1)]:
        status, headers, reply = get(rng)
        assert status == 206, (rng, status, reply)
        assert headers["Content-Range"] == f"bytes {lo}-{hi}/{n}", rng
        assert reply == body[lo:hi + 1], rng
    for rng in [f"bytes={n}-", f"bytes={n}-{n + 10}", "bytes=5-2", "bytes=abc", "bytes=-0",
                "bytes=-", "bytes=1-2x", "bytes=99999999999999999999999-"]:
        status, headers, reply = get(rng)
        assert status == 416, (rng, status)
        assert headers["Content-Range"] == f"bytes */{n}", rng
        assert b'"error"' in reply
    for rng in ["items=0-1", "bytes=0-1,3-4", ""]:   # ignored: the whole chunk
        status, headers, reply = get(rng)
        assert (status, reply) == (200, body), rng
    status, headers, reply = get("bytes=10-19", "HEAD")
    assert status == 206 and reply == b"" and headers["Content-Length"] == "10"
    status, headers, _ = store.request("HEAD", "/chunks/r")
    assert status == 200 and headers["Content-Length"] == str(n) and headers["Accept-Ranges"] == "bytes"
    assert store.request("GET", "/chunks/missing", headers={"Range": "bytes=0-1"})[0] == 404
    store.assert_ready()


def test_keep_alive_and_errors_on_one_connection(store):
    c = http.client.HTTPConnection("127.0.0.1", store.port, timeout=10)
    try:
        body = encode("int32", "8")
        for method, path, b, want in [("GET", "/status", None, 200), ("PUT", "/chunks/ka", body, 201),
                                      ("GET", "/chunks/ka", None, 200), ("GET", "/chunks/nope", None, 404),
                                      ("GET", "/chunks/a/../b", None, 400), ("DELETE", "/chunks/ka", None, 204),
                                      ("GET", "/status", None, 200)]:
            c.request(method, path, body=b)
            r = c.getresponse()
            r.read()
            assert r.status == want, (method, path, r.status)
            assert r.getheader("Connection") != "close", (method, path)
    finally:
        c.close()


def test_sigterm_finishes_the_upload_in_flight(tmp_path):
    srv = StoreServer(tmp_path)
    try:
        body = encode("float64", "1000")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        s.sendall(b"PUT /chunks/inflight HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        s.sendall(body[:3000])
        time.sleep(0.2)
        srv.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        assert srv.proc.poll() is None       # waiting for the request in flight
        s.sendall(body[3000:])
        reply = s.recv(4096)
        s.close()
        assert reply.startswith(b"HTTP/1.1 201"), reply[:80]
        assert srv.proc.wait(10) == 0
        assert (srv.dir / "inflight").read_bytes() == body
        assert "SIGTERM received, stopping" in srv.stderr()
    finally:
        srv.stop()


def test_sigterm_abandons_a_stalled_upload_cleanly(tmp_path):
    srv = StoreServer(tmp_path)
    try:
        body = encode("float64", "1000")
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=15)
        s.sendall(b"PUT /chunks/stalled HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        s.sendall(body[:3000])
        time.sleep(0.2)
        assert [p for p in srv.files() if "#" in p]   # the upload is in a temp file
        t0 = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        assert srv.proc.wait(30) == 0
        assert time.monotonic() - t0 < 20
        s.close()
        assert srv.files() == []                        # nothing half-written is left
    finally:
        srv.stop()


def test_sigint_stops(tmp_path):
    srv = StoreServer(tmp_path)
    srv.proc.send_signal(signal.SIGINT)
    assert srv.proc.wait(10) == 0
    srv.stop()


def test_cli_errors(tmp_path):
    _need(LAMPY)

    def run(*args):
        return subprocess.run([str(LAMPY), "store", *args], capture_output=True, text=True, timeout=30)

    assert run().returncode == 2
    assert run("--port", "0").returncode == 2                      # no --dir
    assert run("--dir", str(tmp_path), "--port", "70000").returncode == 2
    assert run("--dir", str(tmp_path), "--max-chunk-bytes", "lots").returncode == 2
    assert run("--dir", str(tmp_path), "--frobnicate").returncode == 2
    r = run("--dir", str(tmp_path), "--bind", "localhost")
    assert r.returncode == 1 and "not a numeric IPv4 or IPv6 address" in r.stderr
    r = run("--help")
    assert r.returncode == 0 and "usage: lampy store" in r.stdout
    # a port that is taken
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        r = run("--dir", str(tmp_path / "s"), "--port", str(s.getsockname()[1]))
    assert r.returncode == 1 and "cannot listen on 127.0.0.1" in r.stderr


def test_large_chunks(store, redis_url):
    # 24 MB: many body pieces on the server, Expect: 100-continue from curl, the raw SET path
    for url in (store.url, redis_url):
        out = sc("put", url, "large/k", "float64", "3000x1000", 5).stdout
        assert sc("get", url, "large/k").stdout == out
        assert sc("range", url, "large/k", 23999990, 10).stdout.strip() == \
            encode("float64", "3000x1000", 5)[HDR + 23999990:].hex().encode()
        sc("del", url, "large/k")
    assert store.files() == []   # no chunk, no temp, and no empty directory of the nested key


def test_conflicting_content_lengths(store):
    """RFC 9112 6.3: Content-Length fields that disagree (or one beside Transfer-Encoding) are a
    400 and the connection closes; nothing is stored. Identical repeats are the same length."""
    body = encode("int32", "25")
    n = len(body)
    for hdrs, code in [(f"Content-Length: {n}\r\nContent-Length: {n + 1}\r\n", 400),
                       (f"Content-Length: {n + 1}\r\nContent-Length: {n}\r\n", 400),
                       (f"Content-Length: {n}\r\nTransfer-Encoding: chunked\r\n", 400),
                       (f"Content-Length: {n}\r\nContent-Length: {n}\r\n", 201)]:
        s = socket.create_connection(("127.0.0.1", store.port), timeout=10)
        s.sendall(f"PUT /chunks/cl HTTP/1.1\r\nHost: x\r\n{hdrs}\r\n".encode() + body + b"\r\n")
        resp = s.recv(4096)
        assert resp.startswith(f"HTTP/1.1 {code}".encode()), (hdrs, resp)
        if code == 400:
            assert b"Connection: close" in resp and b"conflicting Content-Length" in resp
            assert store.files() == []
        s.close()
    assert store.files() == ["cl"]
    store.assert_ready()
