"""Resource limits of workers and stores: one client cannot take every connection (1,100 idle
ones from one address while another address is served), a request that trickles in is dropped
at its deadline, the worker admits batches by their memory, and a 16 MB batch stays within a
stated memory bound and leaves nothing behind."""
import json
import os
import resource
import socket
import time
from pathlib import Path

import numpy as np
import pytest
from lampy_procs import servers  # noqa: F401 (a fixture)

IDLE = 1100


def open_idle(port, n, source="127.0.0.2"):
    """n connections from another loopback address that send nothing (refused ones close)."""
    socks = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((source, 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", port))
        except OSError:
            s.close()
            continue
        socks.append(s)
    return socks


@pytest.mark.parametrize("kind", ["worker", "store"])
def test_idle_connections_from_one_client(kind, servers, tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < IDLE + 200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, IDLE + 500), hard))
    args = ["worker"] if kind == "worker" else ["store", "--dir", tmp_path / "d"]
    srv = servers(*args)
    socks = open_idle(srv.port, IDLE)
    try:
        # another client gets its answer while they are all open
        for _ in range(5):
            assert srv.request("GET", "/status", timeout=10) == (200, b"ready")
        # the server kept only its per-client share of them open
        time.sleep(0.2)
        alive = 0
        for s in socks:
            s.setblocking(False)
            try:
                alive += s.recv(1) != b""
            except BlockingIOError:
                alive += 1
            except OSError:
                pass
        assert 0 < alive < IDLE / 2, alive
    finally:
        for s in socks:
            s.close()
    assert srv.request("GET", "/status") == (200, b"ready")


def test_trickled_request_is_dropped(servers, tmp_path):
    """A request that sends a header byte every 0.2 s never completes; the server closes it at
    the request deadline (--request-timeout 1) although it is never idle for long."""
    srv = servers("store", "--dir", tmp_path / "d", "--request-timeout", "1")
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"GET /status HTTP/1.1\r\n")
    t0 = time.monotonic()
    closed = False
    try:
        while time.monotonic() - t0 < 30:
            s.sendall(b"X")
            time.sleep(0.2)
            assert srv.request("GET", "/status", timeout=10) == (200, b"ready")
    except (BrokenPipeError, ConnectionResetError):
        closed = True
    s.close()
    assert closed, "the trickling connection stayed open for 30 s"


# ---------------------------------------------------------------- memory

PARSE_FACTOR = 8  # server/worker.h: LPI_WORKER_PARSE_FACTOR, the stated bound


def vm(pid):
    """(VmRSS, VmHWM) in bytes."""
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, v = line.split(":", 1)
        if k in ("VmRSS", "VmHWM"):
            d[k] = int(v.split()[0]) * 1024
    return d["VmRSS"], d["VmHWM"]


def wide_batch(store, n_tasks=4096, k=26):
    """A batch of map tasks each gathering k one-element chunks: chunk references and pieces
    are nearly all of its text (about 16 MB here)."""
    node = {"kernel": "map", "op": "add", "dtype": "float64", "shape": [n_tasks * k],
            "params": {"program": {"inputs": 1, "regs": ["float64", "float64", "float64"], "consts": ["2.0"],
                                   "code": [["add", "float64", 2, 0, 1]], "out": 2}}}
    chunks, tasks = [], []
    for i in range(n_tasks):
        b = [[k * i, k * i + k]]
        pieces = []
        for j in range(k):
            cb = [[k * i + j, k * i + j + 1]]
            pieces.append([len(chunks), cb])
            chunks.append({"store": 0, "key": f"lampy/r1/0/{len(chunks)}", "dtype": "float64", "shape": [1], "box": cb,
                           "checksum": "0" * 16})
        tasks.append({"node": 0, "chunk": i, "box": b, "out": {"store": 0, "key": f"lampy/r1/1/{i}", "box": b},
                      "ops": [{"dtype": "float64", "box": b, "pieces": pieces}]})
    return json.dumps({"format": "lampy.tasks", "version": 1, "run": "r1", "stores": [store], "chunks": chunks,
                       "nodes": [node], "tasks": tasks}).encode()


def wait_rss_below(pid, limit, timeout=30):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if vm(pid)[0] <= limit:
            return True
        time.sleep(0.1)
    return False


def test_16mb_batch_within_the_memory_bound(servers, tmp_path):
    """A 16 MB batch is parsed within PARSE_FACTOR x its size (jansson never holds the whole
    tree: the lists are parsed element by element), and an idle worker gives it all back."""
    store = f"file://{tmp_path / 's'}"
    w = servers("worker", "--allow-store", store, "--max-body", "32M")
    body = wide_batch(store)
    assert 15 << 20 < len(body) < 20 << 20
    rss0, _ = vm(w.proc.pid)
    st, rep = w.request("POST", "/run/lampy", body, {"Content-Type": "application/json"})
    assert st == 500 and "not found" in json.loads(rep)["error"]  # parsed and checked; its inputs do not exist
    _, hwm = vm(w.proc.pid)
    assert hwm - rss0 <= PARSE_FACTOR * len(body), (hwm - rss0) / len(body)
    assert wait_rss_below(w.proc.pid, rss0 + (8 << 20)), vm(w.proc.pid)


def test_memory_admission(servers, tmp_path):
    """--max-memory bounds what batches may reserve: one that could never fit is refused with
    413 before it is parsed; smaller ones run."""
    store = f"file://{tmp_path / 's'}"
    w = servers("worker", "--allow-store", store, "--max-body", "32M", "--max-memory", "64M")
    st, rep = w.request("POST", "/run/lampy", wide_batch(store), {"Content-Type": "application/json"})
    assert st == 413 and "--max-memory" in json.loads(rep)["error"], rep
    full = {"format": "lampy.tasks", "version": 1, "stores": [store],
            "nodes": [{"kernel": "gen", "op": "full", "dtype": "float64", "shape": [4096, 4096],
                       "params": {"node": {"op": "full", "dtype": "float64", "shape": [4096, 4096], "attrs": {"value": "1"}}}}],
            "tasks": [{"node": 0, "chunk": 0, "box": [[0, 4096], [0, 4096]], "ops": [],
                       "out": {"store": 0, "key": "big/a", "box": [[0, 4096], [0, 4096]]}}]}
    st, rep = w.request("POST", "/run/lampy", json.dumps(full).encode(), {"Content-Type": "application/json"})
    assert st == 413 and "needs 128 MiB" in json.loads(rep)["error"], rep
    assert not (tmp_path / "s" / "big").exists()
    full["nodes"][0]["shape"] = full["nodes"][0]["params"]["node"]["shape"] = [1024, 1024]
    full["tasks"][0]["box"] = full["tasks"][0]["out"]["box"] = [[0, 1024], [0, 1024]]
    st, rep = w.request("POST", "/run/lampy", json.dumps(full).encode(), {"Content-Type": "application/json"})
    assert st == 200, rep


def test_idle_worker_returns_large_buffers(servers, tmp_path):
    """A 128 MB task result: the worker keeps its buffer for reuse while busy, and gives it back
    once idle (the buffer cache is trimmed, the heap too)."""
    store = f"file://{tmp_path / 's'}"
    w = servers("worker", "--allow-store", store)
    rss0, _ = vm(w.proc.pid)
    shape = [16384, 1024]
    full = {"format": "lampy.tasks", "version": 1, "stores": [store],
            "nodes": [{"kernel": "gen", "op": "full", "dtype": "float64", "shape": shape,
                       "params": {"node": {"op": "full", "dtype": "float64", "shape": shape, "attrs": {"value": "1"}}}}],
            "tasks": [{"node": 0, "chunk": 0, "box": [[0, n] for n in shape], "ops": [],
                       "out": {"store": 0, "key": "big/a", "box": [[0, n] for n in shape]}}]}
    st, rep = w.request("POST", "/run/lampy", json.dumps(full).encode(), {"Content-Type": "application/json"})
    assert st == 200, rep
    (tmp_path / "s" / "big" / "a").unlink()
    _, hwm = vm(w.proc.pid)
    assert hwm - rss0 >= 128 << 20  # it was resident
    assert wait_rss_below(w.proc.pid, rss0 + (16 << 20)), vm(w.proc.pid)
