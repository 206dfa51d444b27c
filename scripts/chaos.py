#!/usr/bin/env python3
"""Chaos run of the lambda executor (not part of `make test`; docs/SECURITY.md has its figures).

Starts a redis-server and N `lampy worker`s on 127.0.0.1, then makes RUNS remote runs of a few
expressions while a chaos thread, at random moments, SIGKILLs a worker (and starts a new one on
its port), freezes a worker (SIGSTOP for 0.5-4 s), or freezes Redis (SIGSTOP for 0.2-3 s, shorter
than the store's 10 s operation timeout). Every run has a --deadline. Counted:

    wrong    a run that succeeded with a result other than the local executor's (bit for bit)
    hang     a run that ended more than deadline + 7 s (bounded cleanup) + 5 s after its start
    leftover keys in Redis after a run, once every process is resumed, when Redis was not frozen
             during the run's last CLEANUP seconds (the driver's bounded cleanup cannot reach a
             stopped store; those keys are counted apart and left in place)
    no TTL   keys (left by any run) without an expiry (PTTL -1)
    expired  keys still in Redis at the end, after the longest expiry seen has passed: what
             the runs left must be removed by Redis itself (every key of a run expires a minute,
             LAMPY_REMOTE_KEY_MARGIN, after its deadline and cleanup)

Failed runs are allowed (a frozen Redis can outlast a run's retries); they are listed by cause.

    .venv/bin/python scripts/chaos.py [--runs 100] [--workers 4] [--deadline 60] [--seed 1] [--rows 4096]
                                      [--orchestrate driver|lambda]

--orchestrate lambda makes the functions orchestrate each run (docs/ORCHESTRATION.md): the driver
makes one invocation and waits, and a killed or frozen worker's tasks come back through their
expired leases instead of the driver's retries.

--rows sets the arrays' rows (2048 columns of float64: 64 MiB each at 4096). On a quiet machine
a run of the default size takes a fraction of a second and few disturbances reach it; larger
arrays make runs (and so the chaos within each, and Redis freezes during cleanups) longer.

Run it at nice 19 on a shared machine: `nice -n 19 .venv/bin/python scripts/chaos.py`.
"""
import argparse
import collections
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))
sys.path.insert(0, str(ROOT / "tests" / "integration"))
from lampy_procs import LampyServer, RedisConn, start_redis, stop  # noqa: E402

EXPRS = [
    ("(tanh(a) * sin(b) + exp(-a * a)).sum(axis=0)", "256K"),
    ("(a * b - a).var(axis=1)", "128K"),
    ("where(a > b, a, b * 2)[::3].max(axis=0)", "192K"),
]
CLEANUP = 7.0


def redis_keys(port):
    """{key: PTTL in ms} of every key in Redis (-1: no expiry)."""
    r = RedisConn(port)
    try:
        ttls = {k.decode(): r("PTTL", k) for k in r("KEYS", "*")}
        return {k: t for k, t in ttls.items() if t != -2}  # -2: expired since KEYS
    finally:
        r.close()


class Cluster:
    def __init__(self, tmp, nworkers, data):
        self.tmp = tmp
        self.redis, self.port = start_redis(tmp)
        self.url = f"redis://127.0.0.1:{self.port}"
        self.data = data
        self.lock = threading.Lock()
        self.workers = [self.start_worker() for _ in range(nworkers)]
        self.frozen = set()   # pids stopped by the chaos thread
        self.events = collections.Counter()
        self.redis_frozen = []  # [start, end] of each Redis freeze (end None while it lasts)

    def start_worker(self, port=0):
        args = ["worker", "--allow-store", self.url, "--load-dir", self.data]
        if not port:
            return LampyServer(*args)
        # the same port again (the driver keeps its URL list), once the old socket is gone
        for _ in range(100):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                    break
                except OSError:
                    time.sleep(0.05)
        w = LampyServer.__new__(LampyServer)
        e = dict(os.environ)
        w.proc = subprocess.Popen([str(LAMPY), *map(str, args), "--port", str(port)], stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, env=e)
        line = w.proc.stdout.readline()
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        if not m:
            raise RuntimeError(f"worker restart failed: {line!r}")
        w.url, w.port, w.ctx = m.group(1), int(m.group(2)), None
        return w

    def resume_all(self):
        with self.lock:
            for pid in list(self.frozen):
                try:
                    os.kill(pid, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            self.frozen.clear()
            for f in self.redis_frozen:
                if f[1] is None:
                    f[1] = time.monotonic()

    def chaos(self, stop_evt, rng):
        """One disturbance every 0.1-0.8 s while a run is going."""
        while not stop_evt.wait(rng.uniform(0.1, 0.8)):
            kind = rng.choice(["kill", "freeze", "freeze", "redis"])
            i = rng.randrange(len(self.workers))
            if kind == "kill":
                with self.lock:
                    w = self.workers[i]
                    if w.proc.pid in self.frozen:
                        continue
                    w.proc.kill()
                    w.proc.wait()
                    w.proc.stdout.close()
                    self.workers[i] = self.start_worker(w.port)
                self.events["worker killed"] += 1
            elif kind == "freeze":
                pid = self.workers[i].proc.pid
                with self.lock:
                    os.kill(pid, signal.SIGSTOP)
                    self.frozen.add(pid)
                self.events["worker frozen"] += 1
                threading.Timer(rng.uniform(0.5, 4.0), self.thaw, (pid,)).start()
            else:
                pid = self.redis.pid
                with self.lock:
                    if pid in self.frozen:
                        continue
                    os.kill(pid, signal.SIGSTOP)
                    self.frozen.add(pid)
                    self.redis_frozen.append([time.monotonic(), None])
                self.events["redis frozen"] += 1
                threading.Timer(rng.uniform(0.2, 3.0), self.thaw, (pid,)).start()

    def thaw(self, pid):
        with self.lock:
            if pid in self.frozen:
                os.kill(pid, signal.SIGCONT)
                self.frozen.discard(pid)
                if pid == self.redis.pid:
                    self.redis_frozen[-1][1] = time.monotonic()

    def redis_frozen_between(self, t0, t1):
        with self.lock:
            return any(s < t1 and (e is None or e > t0) for s, e in self.redis_frozen)

    def close(self):
        self.resume_all()
        for w in self.workers:
            w.stop()
        stop(self.redis)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=100)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--deadline", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rows", type=int, default=4096)
    ap.add_argument("--orchestrate", choices=("driver", "lambda"), default="driver")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    tmp = Path(tempfile.mkdtemp(prefix="lampy-chaos-"))
    try:
        data = tmp / "data"
        data.mkdir()
        g = np.random.default_rng(a.seed)
        np.save(data / "a.npy", g.standard_normal((a.rows, 2048)))
        np.save(data / "b.npy", g.standard_normal((a.rows, 2048)))
        names = [f"a={data / 'a.npy'}", f"b={data / 'b.npy'}"]
        expected = []
        for i, (expr, cb) in enumerate(EXPRS):
            out = tmp / f"expected{i}.npy"
            r = subprocess.run([str(LAMPY), "eval", expr, *names, "--chunk-bytes", cb, "-o", out], capture_output=True, text=True)
            if r.returncode:
                sys.exit(f"local run failed: {r.stderr}")
            expected.append(np.load(out).tobytes())
        cl = Cluster(tmp, a.workers, data)
        wrong = hangs = leftover = leftover_frozen = ok = 0
        seen = {}         # key left by a run -> its PTTL when first seen (ms)
        expiry_end = 0.0  # monotonic time by which every key seen has expired
        failures = collections.Counter()
        durations = []
        overrun = 0.0
        try:
            for run in range(a.runs):
                k = rng.randrange(len(EXPRS))
                expr, cb = EXPRS[k]
                out = tmp / "r.npy"
                out.unlink(missing_ok=True)
                stop_evt = threading.Event()
                before = collections.Counter(cl.events)
                t = threading.Thread(target=cl.chaos, args=(stop_evt, random.Random(rng.random())))
                t0 = time.monotonic()
                p = subprocess.Popen([str(LAMPY), "eval", expr, *names, "--chunk-bytes", cb, "-o", out, "--executor", "lambda",
                                      "--workers", ",".join(w.url for w in cl.workers), "--store", cl.url,
                                      "--deadline", str(a.deadline), "--orchestrate", a.orchestrate], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                t.start()
                try:
                    _, err = p.communicate(timeout=a.deadline + CLEANUP + 120)
                except subprocess.TimeoutExpired:
                    p.kill()
                    _, err = p.communicate()
                t_end = time.monotonic()
                elapsed = t_end - t0
                stop_evt.set()
                t.join()
                cl.resume_all()
                durations.append(elapsed)
                overrun = max(overrun, elapsed - a.deadline)
                if elapsed > a.deadline + CLEANUP + 5:
                    hangs += 1
                if p.returncode == 0:
                    if np.load(out).tobytes() != expected[k]:
                        wrong += 1
                    else:
                        ok += 1
                else:
                    msg = err.strip().splitlines()[-1] if err.strip() else f"exit {p.returncode}"
                    failures[re.sub(r"\d+", "N", msg)[:160]] += 1
                time.sleep(0.3)  # resumed workers find their run's guard gone
                new = {k: t for k, t in redis_keys(cl.port).items() if k not in seen}
                n = len(new)
                seen.update(new)
                if new:
                    expiry_end = max(expiry_end, time.monotonic() + max(new.values()) / 1000)
                # the driver's cleanup (at most CLEANUP s) could not reach a frozen Redis
                cleanup_frozen = cl.redis_frozen_between(t_end - CLEANUP, t_end)
                if n and cleanup_frozen:
                    leftover_frozen += n
                elif n:
                    leftover += n
                    print(f"  keys left: {' '.join(sorted(new)[:8])} ...; driver said: {err.strip()[-300:]}")
                ev = ", ".join(f"{k} {v}" for k, v in sorted((cl.events - before).items()))
                print(f"run {run + 1:3d}: {'ok' if p.returncode == 0 else 'FAILED'} {elapsed:5.1f} s  keys left {n}  ({ev})",
                      flush=True)
            # what the runs left: every key has an expiry, and Redis removes it
            final = redis_keys(cl.port)
            no_ttl = sorted(k for k, t in {**seen, **final}.items() if t == -1)
            if final:
                expiry_end = max(expiry_end, time.monotonic() + max(final.values()) / 1000)
            print(f"{len(final)} keys in Redis after the last run ({len(seen)} left by the runs in all), "
                  f"{len(no_ttl)} without expiry; waiting {max(0, expiry_end - time.monotonic()):.0f} s for them to expire",
                  flush=True)
            time.sleep(max(0.0, expiry_end - time.monotonic()) + 1)
            after = redis_keys(cl.port)
        finally:
            cl.close()
        print()
        print(f"runs {a.runs}: succeeded {ok}, failed {sum(failures.values())}, wrong results {wrong}, "
              f"hangs past the deadline {hangs}, keys left {leftover} (and {leftover_frozen} in runs whose "
              f"cleanup met a frozen Redis), keys without expiry {len(no_ttl)}, keys left after their expiry "
              f"{len(after)}")
        if no_ttl or after:
            print(f"  without expiry: {' '.join(no_ttl[:8])}; left after expiry: {' '.join(sorted(after)[:8])}")
        print(f"disturbances: " + ", ".join(f"{k} {v}" for k, v in sorted(cl.events.items())))
        print(f"run time: median {np.median(durations):.1f} s, max {max(durations):.1f} s "
              f"(deadline {a.deadline:.0f} s, largest overrun {overrun:+.1f} s)")
        for msg, n in failures.most_common():
            print(f"  {n} x {msg}")
        sys.exit(1 if wrong or hangs or leftover or no_ttl or after else 0)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
