"""Shared by tests/py and tests/integration."""
import atexit
import os
import shutil
import signal
import tempfile

# Every Lampy process of the suite (this one, the CLI, workers) uses the built-in machine profile:
# LAMPY_PROFILE names a file that does not exist, so plans are the same on every machine and no
# process pays the machine probe (src/exec/probe.c). Tests of profiles and of the probe set
# their own.
_no_profile_dir = tempfile.mkdtemp(prefix="lampy-test-")
atexit.register(shutil.rmtree, _no_profile_dir, True)
os.environ["LAMPY_PROFILE"] = os.path.join(_no_profile_dir, "no-profile.json")

# A suite started in the background by a script (`make test &`, CI wrappers) inherits SIGINT
# ignored: POSIX shells ignore it for asynchronous commands, and Python then installs no
# KeyboardInterrupt handler. The Ctrl-C tests need the disposition an interactive user has, in
# this process and in the processes they start (exec resets a caught signal to its default,
# while an ignored one stays ignored, and `lampy` rightly keeps an inherited SIG_IGN).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
