"""Lampy's lambda for OpenLambda: ``POST /run/lampy`` with a batch of tasks (docs/PROTOCOL.md).

``f(event)`` hands the batch to ``lp_worker_run_json``, the C entry point ``lampy worker`` runs
for the same request, through ctypes on ``liblampy.so`` (the whole C library as a shared
object, built next to the ``lampy`` binary as ``build/liblampy.so``, installed by ``make install``). So the
lambda validates, fetches, computes and stores exactly as a Lampy worker does; Python only
carries the JSON across.

OpenLambda always answers 200 when ``f`` returns, so an error comes back as
``{"error": ..., "status": "ERR_...", "code": <the status a worker would send>}``; Lampy's
driver reads ``code``. Settings come from the environment (ol.yaml): ``LAMPY_ALLOW_STORES``,
``LAMPY_LOAD_DIRS``, ``LAMPY_WRITE_DIRS`` (comma-separated), ``LAMPY_KEY_FILE``, ``LAMPY_CA_FILE``, ``LAMPY_LIBRARY``
(path of liblampy.so), ``LAMPY_INVOKE_TIMEOUT`` (seconds to wait for an invoked lambda to answer).

Orchestration by functions (``"kind": "orchestrate"``, docs/ORCHESTRATION.md): ``f`` runs the
chain of tasks it was invoked for *before* it returns — planning the run on first sight,
running task after task, invoking this lambda again (through the same OpenLambda worker URLs
the driver was given) for the tasks that became ready — and answers ``{"accepted": true}``
when the chain ends (a ``lampy worker`` answers 202 at once and goes on on a thread). The
reason is OpenLambda's sandbox life cycle: a sandbox may be paused as soon as its lambda has
answered, and a thread left running would freeze with it, holding leases nobody renews. So
``f`` also returns only after every invocation it started has been sent (at most 10 s); the
answers to those are read by background threads that may be frozen with the sandbox, which is
harmless: the invoked lambdas run in their own sandboxes, and whatever a frozen or killed
sandbox held (its task's lease) expires in Redis and is invoked again by whichever function or
waiting driver reaps it. A chain also hands its next task over by invoking a fresh lambda once
it has used half of ``runtime_sec`` (the run document's), so no invocation outlives
OpenLambda's time limit (502).
"""
import ctypes
import ctypes.util
import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load():
    tried = []
    for cand in (os.environ.get("LAMPY_LIBRARY"), os.path.join(_HERE, "liblampy.so"),
                 ctypes.util.find_library("lampy")):
        if not cand:
            continue
        try:
            lib = ctypes.CDLL(cand)
        except OSError as e:
            tried.append(f"{cand}: {e}")
            continue
        lib.lp_worker_run_json.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_void_p)]
        lib.lp_worker_run_json.restype = ctypes.c_int
        lib.lp_string_free.argtypes = [ctypes.c_void_p]
        lib.lp_string_free.restype = None
        return lib
    raise ImportError("liblampy.so not found (set LAMPY_LIBRARY or copy it next to f.py): " + "; ".join(tried))


_lib = _load()


def run(body: bytes):
    """The worker's answer to a request body: (HTTP status, reply dict)."""
    out = ctypes.c_void_p()
    code = _lib.lp_worker_run_json(body, len(body), ctypes.byref(out))
    if not out.value:
        return 503, {"error": "out of memory", "status": "ERR_NOMEM"}
    try:
        reply = json.loads(ctypes.string_at(out.value).decode("utf-8"))
    finally:
        _lib.lp_string_free(out.value)
    return code, reply


def f(event):
    # OpenLambda passes the parsed JSON body ({} for an empty one); the C side parses it again
    # with its own limits and checks
    body = event if isinstance(event, (bytes, bytearray)) else json.dumps(event, separators=(",", ":")).encode()
    code, reply = run(bytes(body))
    if code != 200:
        reply["code"] = code
    return reply
