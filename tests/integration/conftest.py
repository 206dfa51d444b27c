"""Fixtures shared by the integration tests of the lambda executor (test_remote.py) and of
orchestration by functions (test_orchestrate.py): a redis-server per module, workers started
for one test, and the check that a test leaves nothing in the store."""
import contextlib

import pytest
from lampy_procs import ROOT, Redis, Worker


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis"))
    try:
        yield r
    finally:
        r.stop()


def confined(redis, tmp_path_factory):
    """The options every worker here runs with: the test Redis is its store, load tasks read
    below the test's temp directories and tests/data, and results sinks (`-o`) write below the
    temp directories (nothing is allowed by default)."""
    return ["--allow-store", redis.url, "--load-dir", str(tmp_path_factory.getbasetemp()),
            "--load-dir", str(ROOT / "tests" / "data"), "--write-dir", str(tmp_path_factory.getbasetemp())]


@contextlib.contextmanager
def confined_workers(n, redis, tmp_path_factory, logdir):
    """n workers confined as above for a module's fixture; all are stopped afterwards, also when
    one fails to start."""
    ws = []
    try:
        for _ in range(n):
            ws.append(Worker(*confined(redis, tmp_path_factory), logdir=logdir))
        yield ws
    finally:
        for w in ws:
            w.stop()


@pytest.fixture
def spawn(tmp_path, redis, tmp_path_factory):
    """Start workers (faults, options, environment) for one test, confined to the test Redis and
    data (confine=False: only the options given); all are stopped afterwards."""
    started = []

    def start(*extra, env=None, confine=True):
        w = Worker(*(confined(redis, tmp_path_factory) if confine else []), *extra, logdir=tmp_path, env=env)
        started.append(w)
        return w

    try:
        yield start
    finally:
        for w in started:
            if w.proc.poll() is None:
                w.stop()


@pytest.fixture
def clean_store(redis):
    """The run must leave nothing behind in the store."""
    assert redis.dbsize() == 0
    yield redis
    assert redis.dbsize() == 0, "keys left in the store: " + redis.cli("KEYS", "*")
