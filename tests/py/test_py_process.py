"""Process life: fork, interpreter exit with lazy arrays alive or a run in flight."""
import os
import subprocess
import sys
import textwrap
import time

import pytest

import lampy as lp


def run_script(code, timeout=60):
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                       text=True, timeout=timeout)
    return p


def test_forked_child_computes():
    assert (lp.arange(10) * 2).sum().run() == 90  # the parent's thread pool exists
    pid = os.fork()
    if pid == 0:  # pragma: no cover (child)
        code = 3
        try:
            code = 0 if (lp.arange(10) * 3).sum().run() == 135 else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the forked child hung")
        time.sleep(0.01)
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    assert (lp.arange(4) + 1).sum().run() == 10  # and the parent still works


def test_exit_with_live_arrays():
    p = run_script("""
        import numpy as np, lampy as lp
        x = np.arange(10.0)
        a = lp.asarray(x)            # holds x's buffer until the interpreter clears it
        b = (a + 1) * lp.asarray(np.ones(10))
        r = b.run()
        keep = [lp.asarray(np.arange(i + 1)) for i in range(100)]
        print(float(r.sum()))
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "55.0"


def test_exit_during_a_run_in_a_daemon_thread():
    p = run_script("""
        import threading, time
        import numpy as np, lampy as lp
        x = lp.random.default_rng(0).random(1 << 22) + lp.asarray(np.ones(1 << 22))
        y = x
        for _ in range(40):
            y = lp.sin(y)
        t = threading.Thread(target=lambda: y.sum().run(), daemon=True)
        t.start()
        time.sleep(0.2)
        print("bye")
    """)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "bye"
