"""Ctrl-C cancels a running computation promptly and leaves Lampy usable."""
import os
import signal
import threading
import time

import numpy as np
import pytest

import lampy as lp


def expression(n):
    x = lp.random.default_rng(0).random(n)
    y = x
    for _ in range(60):
        y = lp.sin(y) * 1.0001 + 0.5
    return y.sum()


def long_expression():
    """Several seconds of work on two cores, whatever the machine."""
    return expression(1 << 24)


def seconds_per_element():
    n = 1 << 18
    t = time.monotonic()
    expression(n).run()
    return (time.monotonic() - t) / n


@pytest.fixture
def small_chunks():
    """Chunks of ~50 ms of work: Lampy checks for cancellation between tasks."""
    per = seconds_per_element()
    elems = max(4096, int(0.05 / per))
    with lp.config(chunk_bytes=8 * elems):
        yield per


@pytest.mark.parametrize("how", ["kill", "pthread_kill"])
def test_ctrl_c_cancels_run(how, small_chunks):
    full = small_chunks * (1 << 24)  # the whole run, one thread's worth at most
    expr = long_expression()
    sent = {}
    running = threading.Event()
    main = threading.main_thread().ident

    def interrupt():
        if not running.is_set():
            return
        sent["t"] = time.monotonic()
        if how == "kill":
            os.kill(os.getpid(), signal.SIGINT)
        else:
            signal.pthread_kill(main, signal.SIGINT)

    delay = min(0.3, full / 8)
    timer = threading.Timer(delay, interrupt)
    timer.start()
    running.set()
    try:
        with pytest.raises(KeyboardInterrupt):
            expr.run()
        latency = time.monotonic() - sent["t"]
    finally:
        running.clear()
        timer.cancel()
    # The binding notices the signal within 50 ms; Lampy stops at the next task boundary.
    assert latency < 0.5, f"KeyboardInterrupt {latency:.3f} s after SIGINT"
    # the interrupted run stopped well before the whole computation would have finished
    assert delay + latency < full / 2
    # Lampy stays usable
    assert (lp.ones(10) + 1).sum().run() == 20.0
    x = np.arange(1000.0)
    np.testing.assert_allclose(lp.sin(lp.asarray(x)).run(), np.sin(x))


def test_custom_signal_handler_exception_cancels(small_chunks):
    class Stop(Exception):
        pass

    def handler(signum, frame):
        raise Stop()

    old = signal.signal(signal.SIGUSR1, handler)
    try:
        timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR1))
        timer.start()
        with pytest.raises(Stop):
            long_expression().run()
        timer.cancel()
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert lp.arange(5).sum().run() == 10


def test_signal_handler_that_returns_does_not_cancel():
    seen = []
    old = signal.signal(signal.SIGUSR2, lambda s, f: seen.append(s))
    try:
        x = lp.random.default_rng(3).random(1 << 20)
        y = x
        for _ in range(10):
            y = lp.sin(y)
        expr = y.sum()
        timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGUSR2))
        timer.start()
        r = expr.run()
        timer.join()
    finally:
        signal.signal(signal.SIGUSR2, old)
    assert np.isfinite(r)
