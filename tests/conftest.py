"""Shared by tests/py and tests/integration."""
import signal

# A suite started in the background by a script (`make test &`, CI wrappers) inherits SIGINT
# ignored: POSIX shells ignore it for asynchronous commands, and Python then installs no
# KeyboardInterrupt handler. The Ctrl-C tests need the disposition an interactive user has, in
# this process and in the processes they start (exec resets a caught signal to its default,
# while an ignored one stays ignored, and `lampy` rightly keeps an inherited SIG_IGN).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
