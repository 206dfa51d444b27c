"""Signals: `lampy store` and `lampy worker` stop cleanly (exit 0) on SIGINT/SIGTERM whatever
thread the kernel hands the signal to — also one a library started before main (OpenBLAS's
pool) — and `lampy eval -o` leaves no temp file behind when it is interrupted while writing."""
import os
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from lampy_procs import stop

ROOT = Path(__file__).resolve().parents[2]
LAMPY = Path(os.environ.get("LAMPY_BIN", ROOT / "build" / "lampy"))


def start_and_interrupt(args, sig):
    """Start a server, send sig the moment it says "listening on", return (exit status, stderr)."""
    p = subprocess.Popen([str(LAMPY), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert line.startswith("listening on "), (line, p.stderr.read())
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        return p.returncode, err
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()


@pytest.mark.parametrize("server", ["store", "worker"])
def test_signal_right_after_listening(server, tmp_path):
    """200 starts, each interrupted as soon as it listens (SIGINT, every fifth SIGTERM): every
    one exits 0 after saying which signal stopped it."""
    args = ["store", "--dir", str(tmp_path / "d"), "--threads", "2"] if server == "store" else ["worker", "--port", "0"]
    args += ["--port", "0"]
    sigs = [signal.SIGTERM if i % 5 == 0 else signal.SIGINT for i in range(200)]
    with ThreadPoolExecutor(8) as ex:
        results = list(ex.map(lambda s: start_and_interrupt(args, s), sigs))
    bad = [(i, rc, err) for i, (rc, err) in enumerate(results) if rc != 0]
    assert not bad, f"{len(bad)} of 200 runs did not exit 0; first: {bad[0]}"
    for (rc, err), s in zip(results, sigs):
        assert ("SIGTERM" if s == signal.SIGTERM else "SIGINT") + " received" in err, err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_output_leaves_no_temp_file(sig, tmp_path):
    """A 400 MB result being written when the signal comes: neither the output nor a temp file
    remains. The signal is sent the moment the temp file appears."""
    out = tmp_path / "out.npy"
    p = subprocess.Popen([str(LAMPY), "eval", "arange(50000000) * 1.5", "-o", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and p.poll() is None:
            if any(f.name != "out.npy" for f in tmp_path.iterdir()):
                break
            time.sleep(0.0005)
        assert p.poll() is None, "the run ended before a temp file was seen"
        p.send_signal(sig)
        p.wait(60)
    finally:
        stop(p, signal.SIGKILL)
        p.stderr.close()
    assert p.returncode == -sig
    assert sorted(f.name for f in tmp_path.iterdir()) in ([], ["out.npy"])
    if out.exists():  # the signal came after the rename: then the file is whole
        assert np.load(out, mmap_mode="r").shape == (50000000,)


def test_long_output_name(tmp_path):
    """Names up to NAME_MAX (255 bytes) work, as with numpy.save: the temp name is shortened."""
    for n in (245, 251, 255):
        name = "x" * (n - 4) + ".npy"
        r = subprocess.run([str(LAMPY), "eval", "arange(5)", "-o", str(tmp_path / name)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        assert (np.load(tmp_path / name) == np.arange(5)).all()
    assert len(list(tmp_path.iterdir())) == 3
