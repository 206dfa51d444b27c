"""Deadlines: a stopped (SIGSTOP) worker or Redis never hangs a run. A frozen worker's tasks are
sent again elsewhere after a few times their estimated work and the run completes; a frozen
Redis, or frozen workers only, end the run with a clear message within its --deadline (plus the
bounded cleanup); every chunk of the run is deleted wherever the store is alive; and what a
cleanup could not delete has an expiry from the moment it was written, so Redis removes it
itself after the run's deadline, the cleanup and the key margin (LAMPY_REMOTE_KEY_MARGIN)."""
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from lampy_procs import LAMPY, LampyServer, RedisConn, start_redis, stop

SLOW = "(tanh(a) * sin(b) + exp(-a * a)).sum(axis=0)"
CLEANUP = 5 + 2  # the driver's bounded end-of-run deletes and grace period (exec/remote.c)


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    proc, port = start_redis(tmp_path_factory.mktemp("redis"))
    try:
        yield proc, f"redis://127.0.0.1:{port}", port
    finally:
        proc.send_signal(signal.SIGCONT)
        stop(proc)


def dbsize(port):
    r = subprocess.run(["redis-cli", "-p", str(port), "DBSIZE"], capture_output=True, text=True, timeout=30)
    return int(r.stdout.strip())


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(3)
    np.save(d / "a.npy", rng.standard_normal((2048, 1024)))
    np.save(d / "b.npy", rng.standard_normal((2048, 1024)))
    r = subprocess.run([str(LAMPY), "eval", SLOW, f"a={d / 'a.npy'}", f"b={d / 'b.npy'}", "--chunk-bytes", "256K",
                        "-o", d / "expected.npy"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return d


@pytest.fixture
def workers(redis, data):
    ws = []

    def start(n):
        ws.extend(LampyServer("worker", "--allow-store", redis[1], "--load-dir", data, "--write-dir", data.parent)
                  for _ in range(n))
        return ws

    try:
        yield start
    finally:
        for w in ws:
            w.stop()


def start_run(ws, store, data, out, *extra, env=None):
    return subprocess.Popen([str(LAMPY), "eval", SLOW, f"a={data / 'a.npy'}", f"b={data / 'b.npy'}", "--chunk-bytes",
                             "256K", "-o", str(out), "--executor", "lambda", "--workers", ",".join(w.url for w in ws),
                             "--store", store, *map(str, extra)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, **(env or {})))


def assert_keys_expire(port, max_ttl, wait=True):
    """Every key runs left in Redis (lampy/...) has an expiry within max_ttl seconds (PTTL -1
    would be none), and (wait) none is left once the longest has passed. Returns how many keys
    there were."""
    r = RedisConn(port)
    try:
        keys = r("KEYS", "lampy/*")
        ttls = {k.decode(): r("PTTL", k) for k in keys}  # -2: expired since KEYS
        assert all(t != -1 and t <= max_ttl * 1000 for t in ttls.values()), ttls
        if wait:
            time.sleep(max(ttls.values(), default=0) / 1000 + 0.05)
            assert [k for k in keys if r("EXISTS", k)] == [] and r("KEYS", "lampy/*") == []
        return len(keys)
    finally:
        r.close()


def wait_busy(w, proc):
    """Until worker w has received a batch (the run is under way). A counter, not the in-flight
    gauge: a batch shorter than one poll must not be missed."""
    import json
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if json.loads(w.request("GET", "/stats")[1])["batches"] >= 1:
            return
        time.sleep(0.002)
    raise AssertionError("the run ended before the worker got work: " + (proc.communicate()[1] if proc.poll() is not None else ""))


def test_frozen_worker_is_hedged(redis, workers, data, tmp_path):
    ws = workers(3)
    out = tmp_path / "r.npy"
    # frozen before the run starts: its kernel still accepts the driver's connections and
    # requests, which the process never answers — the same as a freeze mid-batch for the
    # driver, without a race between the run and the test watching for the moment
    ws[0].proc.send_signal(signal.SIGSTOP)
    proc = start_run(ws, redis[1], data, out, "--deadline", 120)
    try:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert np.load(out).tobytes() == np.load(data / "expected.npy").tobytes()
        assert dbsize(redis[2]) == 0  # the frozen worker never wrote, nothing is left
    finally:
        ws[0].proc.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    time.sleep(0.5)  # the resumed worker sees its driver gone and writes nothing
    assert dbsize(redis[2]) == 0


def test_all_workers_frozen_hit_the_deadline(redis, workers, data, tmp_path):
    ws = workers(2)
    for w in ws:  # frozen before the run (see test_frozen_worker_is_hedged)
        w.proc.send_signal(signal.SIGSTOP)
    proc = start_run(ws, redis[1], data, tmp_path / "r.npy", "--deadline", 4)
    t0 = time.monotonic()
    try:
        _, err = proc.communicate(timeout=120)
        elapsed = time.monotonic() - t0
    finally:
        for w in ws:
            w.proc.send_signal(signal.SIGCONT)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1 and "deadline of 4 s" in err, err
    assert elapsed < 4 + CLEANUP + 10, elapsed  # not the 35 s invocation timeout
    assert dbsize(redis[2]) == 0
    assert not (tmp_path / "r.npy").exists()


def test_frozen_redis_ends_the_run(workers, data, tmp_path):
    proc_r, port = start_redis(tmp_path)
    url = f"redis://127.0.0.1:{port}"
    try:
        ws = [LampyServer("worker", "--allow-store", url, "--load-dir", data, "--write-dir", data.parent)
              for _ in range(2)]
        try:
            proc = start_run(ws, url, data, tmp_path / "r.npy", "--deadline", 4)
            t0 = time.monotonic()
            r = RedisConn(port)
            while r("DBSIZE") < 4 and proc.poll() is None:  # the guard and some outputs
                pass
            r.close()
            proc_r.send_signal(signal.SIGSTOP)
            _, err = proc.communicate(timeout=120)
            elapsed = time.monotonic() - t0
            assert proc.returncode == 1, err
            assert "deadline of 4 s" in err and ("got no answer" in err or "timed out" in err), err
            assert elapsed < 4 + CLEANUP + 10, elapsed
            proc_r.send_signal(signal.SIGCONT)
            # the cleanup met the stopped Redis: what it left expires by itself, a minute (the
            # default margin) after the deadline and the cleanup (seen expiring in the next test).
            # A put that Redis queued while stopped runs now, with its full expiry.
            assert assert_keys_expire(port, 4 + 5 + 60, wait=False) > 0
            for w in ws:  # the workers keep serving
                assert w.request("GET", "/status") == (200, b"ready")
        finally:
            for w in ws:
                w.stop()
    finally:
        proc_r.send_signal(signal.SIGCONT)
        stop(proc_r)


def test_keys_of_a_failed_cleanup_expire(data, tmp_path, monkeypatch):
    """The driver may write to Redis but not delete (an ACL), so its end-of-run cleanup fails on
    every key: the run's guard, the chunks the driver uploads (in-memory data) and the workers'
    outputs all stay, each with its expiry, and are gone after it."""
    import lampy as lp
    proc_r, port = start_redis(tmp_path)
    r = RedisConn(port)
    try:
        r("ACL", "SETUSER", "driver", "on", ">pw", "~*", "+@all", "-del", "-unlink")
        w = LampyServer("worker", "--allow-store", f"redis://127.0.0.1:{port}", "--load-dir", data,
                        "--write-dir", data.parent)
        try:
            monkeypatch.setenv("LAMPY_REMOTE_KEY_MARGIN", "0.5")
            x = np.arange(2048 * 1024, dtype=np.float64).reshape(2048, 1024) % 7
            with lp.config(executor="lambda", workers=[w.url], store=f"redis://driver:pw@127.0.0.1:{port}",
                           deadline=8, chunk_bytes=256 << 10):
                got = (lp.asarray(x) * lp.load(str(data / "a.npy"))).sum(axis=0).run()
            a = np.load(data / "a.npy")
            assert np.allclose(got, (x * a).sum(axis=0), rtol=1e-12, atol=1e-9)
            keys = [k.decode() for k in r("KEYS", "lampy/*")]
            run = {k.split("/")[1] for k in keys}
            assert len(run) == 1 and f"lampy/{run.pop()}/live" in keys, keys
            # the 64 uploaded chunks of x (16 MiB in 256 KiB chunks) and the 73 outputs
            assert len(keys) > 64, keys
            assert assert_keys_expire(port, 8 + 5 + 0.5) == len(keys)
        finally:
            w.stop()
    finally:
        r.close()
        stop(proc_r)
