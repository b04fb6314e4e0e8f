"""Run a function in a fresh Python process and wait for it (the sweep's worker
processes, and one process per thread count).

A spawned interpreter, not a fork: nothing of this process's state (loaded
libraries, their thread pools, where its arrays and compiled code sit in memory)
carries over, which is the point of timing in several processes (pyperf's worker
processes). The child is not a daemon, so it may start processes of its own (a
thread count's sweep spreading its passes over several). User implementations
registered with ``export`` reach it through ``$MLPBENCH_IMPLEMENTATIONS``.
"""

from __future__ import annotations

import multiprocessing
from typing import Any

from mlpbench.errors import MlpbenchError


class WorkerError(MlpbenchError, RuntimeError):
    """A worker process ended without reporting (killed, or crashed in C code)."""


#: How often (seconds) the parent looks whether a silent child is still alive.
POLL_S = 0.2


def in_fresh_process(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn(*args, **kwargs)`` in a new spawned process and return its result.

    ``fn`` and its arguments must pickle (a module-level function). An exception in
    the child is raised here (the same exception, or a WorkerError naming it where
    it does not pickle); a child that dies without a word (a signal, a crash in C)
    raises WorkerError with its exit code. On Ctrl-C the child, in the same process
    group, gets it too (it is sent SIGTERM if it has not ended within
    INTERRUPT_GRACE_S, which it turns into KeyboardInterrupt): the parent waits for it to finish (a sweep saves what it
    finished) and raises KeyboardInterrupt.
    """
    ctx = multiprocessing.get_context("spawn")
    receive, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(send, fn, args, kwargs), daemon=False)
    proc.start()
    send.close()  # the child's end: recv() sees EOF once the child has gone
    message = None
    try:
        while message is None:
            if receive.poll(POLL_S):
                try:
                    message = receive.recv()
                except EOFError:
                    break
            elif not proc.is_alive():
                if receive.poll(0):
                    continue
                break
    except KeyboardInterrupt:
        _interrupt(proc)
        raise
    finally:
        receive.close()
    proc.join()
    if message is None:
        raise WorkerError(f"the worker process ended with exit code {proc.exitcode} "
                          "without a result (killed, out of memory, or a crash in C code)")
    kind, value = message
    if kind == "ok":
        return value
    if kind == "interrupted":
        raise KeyboardInterrupt
    raise value


#: After a Ctrl-C, how long (seconds) the child has to end by itself (it got the same
#: SIGINT from the terminal) before it is sent SIGTERM (a signal to the parent alone,
#: or a SIGTERM, or a background job, whose SIGINT is ignored).
INTERRUPT_GRACE_S = 2.0


def _interrupt(proc: Any) -> None:
    """Stop the child after the parent was interrupted, and wait for it to end: the
    child turns SIGTERM into KeyboardInterrupt (:func:`_child`), so a sweep saves."""
    import os
    import signal

    proc.join(INTERRUPT_GRACE_S)
    if proc.is_alive():
        os.kill(proc.pid, signal.SIGTERM)
    proc.join()


def _stop(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _child(send: Any, fn: Any, args: tuple, kwargs: dict) -> None:
    import signal
    import threading

    from tqdm import tqdm

    signal.signal(signal.SIGTERM, _stop)
    tqdm.set_lock(threading.RLock())  # not tqdm's default semaphore, left behind at exit
    try:
        message: tuple = ("ok", fn(*args, **kwargs))
    except KeyboardInterrupt:
        message = ("interrupted", None)
    except BaseException as exc:  # noqa: BLE001 (every failure goes to the parent)
        message = ("error", exc)
    try:
        send.send(message)
    except Exception:  # an exception or result that does not pickle
        kind, value = message
        send.send(("error", WorkerError(f"the worker process failed: {value!r}"
                                        if kind == "error" else
                                        f"the worker's result does not pickle: {value!r}")))
    finally:
        send.close()
