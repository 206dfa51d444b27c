"""Data anywhere: .npy files and Zarr v3 arrays read from a local directory, from a real nginx,
from `lampy serve` and from an S3 server (moto's `moto_server`), all compared with NumPy /
zarr-python; writes to S3 and to Zarr read back by boto3 and zarr-python; the bytes a slice reads
(exact ranges); servers that fail twice, cut a body short, ignore Range or change the object
underneath; and the remote Fisher LDA with X and y on S3 and workers that see no shared files.

Every server is a real process (or, for the three faulty ones, a small http.server in a thread)
on 127.0.0.1 with a free port, stopped by its fixture also when a test fails.
"""
import http.server
import io
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.codecs import BloscCodec, BytesCodec, GzipCodec, TransposeCodec, ZstdCodec

import lampy as lp
from lampy_procs import start_moto, start_nginx, start_redis, stop

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
MOTO = Path(sys.executable).parent / "moto_server"
BUCKET = "lampy-data"
TOKEN = "t0ken-for-tests"

DTYPES = ["bool", "int32", "int64", "float32", "float64"]


def values(dt, shape, seed):
    rng = np.random.default_rng(seed)
    if dt == "bool":
        return rng.random(shape) < 0.4
    if dt.startswith("int"):
        return rng.integers(-1000, 1000, size=shape).astype(dt)
    return rng.standard_normal(shape).astype(dt)


def lampy(*args, env=None, cwd=None, timeout=120):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([str(LAMPY), *map(str, args)], capture_output=True, text=True, env=e, cwd=cwd,
                          timeout=timeout)


def listening(proc, timeout=15):
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    line = proc.stdout.readline() if ready else ""
    m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
    if not m:
        stop(proc)
        raise AssertionError(f"no 'listening on' line: {line!r}")
    return m.group(1), int(m.group(2))


# ---------------------------------------------------------------- data


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """{name: reference array} for .npy files of every dtype, order and byte order, and Zarr
    arrays of every codec (written by zarr-python), all in one directory."""
    d = tmp_path_factory.mktemp("data")
    ref = {}
    k = 0
    for dt in DTYPES:
        for order in "CF":
            for endian in ("<", ">") if dt != "bool" else ("|",):
                a = values(dt, (37, 6), k)
                k += 1
                a = np.asfortranarray(a) if order == "F" else a
                a = a.astype(np.dtype(dt).newbyteorder(endian)) if endian != "|" else a
                name = f"{dt}_{order}_{'le' if endian == '<' else 'be' if endian == '>' else 'na'}.npy"
                np.save(d / name, a)
                ref[name] = np.load(d / name)
    for name, a in [("vec.npy", values("float64", (50,), 90)), ("cube.npy", values("int32", (5, 4, 3), 91)),
                    ("scalar.npy", np.array(2.5))]:
        np.save(d / name, a)
        ref[name] = a
    zcases = {
        "none": dict(serializer=BytesCodec(), compressors=None),
        "zstd": dict(serializer=BytesCodec(), compressors=[ZstdCodec()]),
        "gzip": dict(serializer=BytesCodec(), compressors=[GzipCodec()]),
        "blosc": dict(serializer=BytesCodec(), compressors=[BloscCodec()]),
        "bigendian": dict(serializer=BytesCodec(endian="big"), compressors=[ZstdCodec()]),
        "transpose": dict(filters=[TransposeCodec(order=(1, 0))], serializer=BytesCodec(), compressors=None),
        "sharded": dict(shards=(40, 12), serializer=BytesCodec(), compressors=[ZstdCodec()]),
    }
    for codec, kw in zcases.items():
        for dt in ("float64", "int32", "bool"):
            k += 1
            a = values(dt, (70, 22), k)
            z = zarr.create_array(str(d / f"{codec}_{dt}.zarr"), shape=a.shape, chunks=(20, 6), dtype=a.dtype,
                                  fill_value=7 if dt != "bool" else True, **kw)
            z[:50] = a[:50]  # rows 50.. never written: the fill value
            a = a.copy()
            a[50:] = 7 if dt != "bool" else True
            ref[f"{codec}_{dt}.zarr"] = a
    return d, ref


# ---------------------------------------------------------------- servers


@pytest.fixture(scope="module")
def nginx(data, tmp_path_factory):
    d, _ = data
    proc, url = start_nginx(d, tmp_path_factory.mktemp("nginx"))
    try:
        yield url
    finally:
        stop(proc, signal.SIGQUIT)


@pytest.fixture(scope="module")
def serve(data):
    d, _ = data
    proc = subprocess.Popen([str(LAMPY), "serve", "--dir", str(d), "--port", "0", "--token", TOKEN],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url, port = listening(proc)
        yield url, port
    finally:
        stop(proc)


@pytest.fixture(scope="module")
def s3(data):
    """moto_server on loopback, the AWS variables pointing at it (for this process and the
    processes it starts), and every data file uploaded with boto3."""
    import boto3
    d, _ = data
    proc, env = start_moto(MOTO)
    saved = {k: os.environ.get(k) for k in list(env) + ["AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    try:
        os.environ.update(env)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                              aws_access_key_id="testing", aws_secret_access_key="testing")
        client.create_bucket(Bucket=BUCKET)
        for p in d.rglob("*"):
            if p.is_file():
                client.upload_file(str(p), BUCKET, str(p.relative_to(d)))
        yield client, env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        stop(proc)


def url_of(source, name, data, nginx, serve):
    d, _ = data
    if source == "file":
        return str(d / name)
    if source == "nginx":
        return f"{nginx}/{name}"
    if source == "serve":
        return f"http://:{TOKEN}@127.0.0.1:{serve[1]}/{name}"
    return f"s3://{BUCKET}/{name}"


def same(a, b):
    return a.shape == b.shape and np.asarray(a).dtype == np.asarray(b).dtype.newbyteorder("=") and \
        np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("source", ["file", "nginx", "serve", "s3"])
def test_every_dtype_and_codec(source, data, nginx, serve, s3):
    """Each .npy (dtype x order x byte order) and Zarr array (codec x dtype), whole and sliced."""
    _, ref = data
    for name, want in ref.items():
        a = lp.load(url_of(source, name, data, nginx, serve))
        assert same(a.run(), want), (source, name)
        if want.ndim == 2:
            got = a[3:31:3, ::-1].run()
            assert same(got, want[3:31:3, ::-1]), (source, name)
            assert same(a.T[1].run(), want.T[1]), (source, name)


def test_cli_info_and_eval_over_urls(data, nginx, serve, s3):
    _, ref = data
    r = lampy("info", f"http://:{TOKEN}@127.0.0.1:{serve[1]}/float64_C_le.npy", f"s3://{BUCKET}/zstd_float64.zarr")
    assert r.returncode == 0, r.stderr
    assert "shape         (37, 6)" in r.stdout and "format        zarr v3" in r.stdout
    r = lampy("eval", "a[2:5].sum() + z[:, 1].sum()", f"a={nginx}/float64_F_be.npy", f"z=s3://{BUCKET}/gzip_float64.zarr")
    assert r.returncode == 0, r.stderr
    want = ref["float64_F_be.npy"][2:5].sum() + ref["gzip_float64.zarr"][:, 1].sum()
    assert float(r.stdout) == pytest.approx(want, rel=1e-12)
    # the server's listing
    req = urllib.request.Request(f"http://127.0.0.1:{serve[1]}/", headers={"Authorization": f"Bearer {TOKEN}"})
    listing = __import__("json").loads(urllib.request.urlopen(req).read())
    arrays = {a["path"]: a for a in listing["arrays"]}
    assert arrays["cube.npy"]["shape"] == [5, 4, 3] and arrays["cube.npy"]["dtype"] == "int32"
    assert arrays["sharded_bool.zarr"]["format"] == "zarr" and arrays["sharded_bool.zarr"]["shape"] == [70, 22]
    # no token, a wrong one, a path out of the directory
    assert lampy("info", f"http://127.0.0.1:{serve[1]}/vec.npy").returncode == 1
    r = lampy("info", f"http://:wrong@127.0.0.1:{serve[1]}/vec.npy")
    assert r.returncode == 1 and "401" in r.stderr and "wrong" not in r.stderr
    for bad in ("../etc/passwd", "a/../../x.npy", ".hidden", "x%2e%2e/y"):
        req = urllib.request.Request(f"http://127.0.0.1:{serve[1]}/{bad}", headers={"Authorization": f"Bearer {TOKEN}"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code in (400, 404)


def test_serve_refuses_to_expose_without_token(data):
    d, _ = data
    r = lampy("serve", "--dir", d, "--bind", "0.0.0.0", "--port", "0", timeout=10)
    assert r.returncode == 2 and "--token" in r.stderr


# ---------------------------------------------------------------- bytes read


def test_bytes_read_are_the_slices_bytes(tmp_path):
    n = 20000
    a = np.arange(n * 8, dtype=np.float64).reshape(n, 8)
    np.save(tmp_path / "c.npy", a)
    np.save(tmp_path / "f.npy", np.asfortranarray(a))
    c, f = lp.load(str(tmp_path / "c.npy")), lp.load(str(tmp_path / "f.npy"))
    row = 8 * 8
    cases = [
        (c[100:200].sum(), a[100:200].sum(), 100 * row),
        (c[5], a[5], row),
        (c[::1000], a[::1000], 20 * row),            # rows 64 kB apart: one range each
        (f[:, 3], a[:, 3], n * 8),                   # one Fortran column, contiguous
        (c.reshape(-1)[16:32], a.reshape(-1)[16:32], 16 * 8),
        (c.T[2, 100:110], a.T[2, 100:110], 9 * row + 8),  # elements 56 bytes apart: one span
        (c[::-1][:3], a[::-1][:3], 3 * row),
        (c.sum(), a.sum(), n * row),
    ]
    for x, want, nbytes in cases:
        got = x.run()
        assert np.array_equal(got, want)
        assert lp.last_run_stats()["bytes_read"] == nbytes, (want, lp.last_run_stats())


# ---------------------------------------------------------------- writes


def test_writes_to_s3_and_zarr(tmp_path, s3):
    client, _ = s3
    big = values("float64", (1200, 1000), 5)  # 9.6 MB: a multipart upload
    small = values("int32", (10, 3), 6)
    lp.save(f"s3://{BUCKET}/out/big.npy", lp.asarray(big))
    lp.save(f"s3://{BUCKET}/out/small.npy", lp.asarray(small))
    for key, want in (("out/big.npy", big), ("out/small.npy", small)):
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert np.array_equal(np.load(io.BytesIO(body)), want)
    assert not client.list_multipart_uploads(Bucket=BUCKET).get("Uploads")
    # Zarr on S3, read back by zarr-python from the downloaded objects
    lp.save(f"s3://{BUCKET}/out/arr.zarr", lp.asarray(small), chunks=(4, 2), codec="blosc")
    local = tmp_path / "dl.zarr"
    for o in client.list_objects_v2(Bucket=BUCKET, Prefix="out/arr.zarr/")["Contents"]:
        p = local / o["Key"][len("out/arr.zarr/"):]
        p.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(BUCKET, o["Key"], str(p))
    assert np.array_equal(zarr.open_array(str(local), mode="r")[:], small)
    assert np.array_equal(lp.load(f"s3://{BUCKET}/out/arr.zarr").run(), small)
    # local Zarr with every codec, order and byte order, read by zarr-python
    for dt in ("bool", "int64", "float32"):
        x = values(dt, (23, 7, 3), 8)
        for codec in ("none", "gzip", "zstd", "blosc"):
            for order in "CF":
                for endian in ("little", "big"):
                    p = tmp_path / f"w_{dt}_{codec}_{order}_{endian}.zarr"
                    lp.save(str(p), lp.asarray(x), chunks=(5, 7, 2), codec=codec, order=order, endian=endian)
                    z = zarr.open_array(str(p), mode="r")
                    assert z.chunks == (5, 7, 2) and np.array_equal(z[:], x), p.name
                    assert np.array_equal(lp.load(str(p))[3:19, 2].run(), x[3:19, 2])


# ---------------------------------------------------------------- faulty servers


class Fake(http.server.ThreadingHTTPServer):
    daemon_threads = True


def fake_server(body, mode):
    """A server of one object (any path) that misbehaves as `mode` says."""
    state = {"requests": 0, "failed": 0}

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def answer(self, send_body):
            state["requests"] += 1
            if mode == "flaky" and state["failed"] < 2:
                state["failed"] += 1
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            data, code, extra = body, 200, {}
            etag = '"v1"' if mode != "changing" or state["requests"] < 2 else '"v2"'
            rng = self.headers.get("Range")
            if rng and mode != "norange":
                a, b = map(int, re.fullmatch(r"bytes=(\d+)-(\d+)", rng).groups())
                data, code = body[a:b + 1], 206
                extra["Content-Range"] = f"bytes {a}-{b}/{len(body)}"
            self.send_response(code)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("ETag", etag)
            for k, v in extra.items():
                self.send_header(k, v)
            self.end_headers()
            if send_body:
                if mode == "truncate" and len(data) > 1:
                    self.wfile.write(data[:len(data) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(data)

        def do_HEAD(self):
            self.answer(False)

        def do_GET(self):
            self.answer(True)

    srv = Fake(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    return srv, state


@pytest.mark.parametrize("mode", ["flaky", "norange", "truncate", "changing"])
def test_faulty_servers(mode, tmp_path):
    a = values("float64", (300, 5), 11)
    np.save(tmp_path / "x.npy", a)
    srv, state = fake_server((tmp_path / "x.npy").read_bytes(), mode)
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/x.npy"
        r = lampy("eval", "--stats", "a[10:200:3].sum()", f"a={url}", env={"LAMPY_IO_TRIES": "4"})
        if mode in ("flaky", "norange"):
            assert r.returncode == 0, r.stderr
            assert float(r.stdout.split()[0]) == pytest.approx(a[10:200:3].sum(), rel=1e-12)
            if mode == "flaky":
                assert state["failed"] == 2
        elif mode == "truncate":
            assert r.returncode == 1 and "truncated" in r.stderr and "4 times" in r.stderr, r.stderr
            assert r.stdout == ""
        else:
            assert r.returncode == 1 and "changed since it was opened" in r.stderr, r.stderr
            assert r.stdout == ""
    finally:
        srv.shutdown()
        srv.server_close()


# ---------------------------------------------------------------- remote, data on S3


def test_remote_fisher_with_data_on_s3(tmp_path, s3):
    client, env = s3
    g = lampy("gen", "--rows", 30000, "--features", 8, "--classes", 3, "--seed", 4, "-o", tmp_path)
    assert g.returncode == 0, g.stderr
    for f in ("X.npy", "y.npy"):
        client.upload_file(str(tmp_path / f), BUCKET, f"lda/{f}")
    empty = tmp_path / "empty"
    empty.mkdir()
    redis, rport = start_redis(tmp_path)
    workers, urls = [], []
    try:
        for _ in range(2):
            # no shared file system: a worker may read no directory with data, only the bucket
            w = subprocess.Popen([str(LAMPY), "worker", "--port", "0", "--load-dir", str(empty), "--load-url",
                                  f"s3://{BUCKET}/lda/", "--allow-store", f"redis://127.0.0.1:{rport}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 cwd=empty, env={**os.environ, **env})
            workers.append(w)
            urls.append(listening(w)[0])
        remote = ["--executor", "lambda", "--workers", ",".join(urls), "--store", f"redis://127.0.0.1:{rport}"]
        loc = lampy("fisher", tmp_path / "X.npy", tmp_path / "y.npy", "--chunk-rows", 4000, "--save",
                    tmp_path / "m_local.npy")
        assert loc.returncode == 0, loc.stderr
        rem = lampy("fisher", f"s3://{BUCKET}/lda/X.npy", f"s3://{BUCKET}/lda/y.npy", "--chunk-rows", 4000, "--save",
                    tmp_path / "m_remote.npy", *remote, env=env)
        assert rem.returncode == 0, rem.stderr
        # the same plan on the same bytes: the same model, bit for bit
        assert (tmp_path / "m_local.npy").read_bytes() == (tmp_path / "m_remote.npy").read_bytes()
        acc = lambda out: re.search(r"accuracy\s+(\S+)", out).group(1)
        assert acc(loc.stdout) == acc(rem.stdout)
        # the workers read the rows themselves: the driver moved none of X through the store
        r = lampy("eval", "--stats", "x[1000:1010].sum()", f"x=s3://{BUCKET}/lda/X.npy", *remote, env=env)
        assert r.returncode == 0, r.stderr
        assert re.search(r"bytes read\s+640 ", r.stderr), r.stderr
        # and nothing outside the bucket prefix and the (empty) load directory
        r = lampy("eval", "x.sum()", f"x={tmp_path / 'X.npy'}", *remote, env=env)
        assert r.returncode == 1 and "not below the worker's load roots" in r.stderr and "403" in r.stderr, r.stderr
        client.upload_file(str(tmp_path / "X.npy"), BUCKET, "other/X.npy")
        r = lampy("eval", "x.sum()", f"x=s3://{BUCKET}/other/X.npy", *remote, env=env)
        assert r.returncode == 1 and "not one this worker may read" in r.stderr, r.stderr
    finally:
        for w in workers:
            stop(w)
        stop(redis)
