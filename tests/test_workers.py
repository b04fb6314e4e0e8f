"""harness.workers: a function run in a fresh spawned process, its result, its
exceptions, and a child that dies without a word."""

import os

import pytest

from mlpbench.errors import InputError
from mlpbench.harness.workers import WorkerError, in_fresh_process


def test_the_result_comes_back_from_another_process():
    assert in_fresh_process(os.getpid) != os.getpid()
    assert in_fresh_process(divmod, 17, 5) == (3, 2)


def test_an_exception_in_the_child_is_raised_here():
    with pytest.raises(ValueError, match="invalid literal"):
        in_fresh_process(int, "not a number")
    with pytest.raises(InputError, match="precision"):
        from mlpbench.harness.config import SweepConfig

        in_fresh_process(_validate, SweepConfig(precision=2.0))


def _validate(cfg):
    from mlpbench.harness.config import validate_config

    validate_config(cfg)


def test_a_child_that_dies_without_a_word_is_a_worker_error():
    with pytest.raises(WorkerError, match="exit code 3"):
        in_fresh_process(os._exit, 3)


def _terminated_child():
    import signal
    import time

    os.kill(os.getpid(), signal.SIGTERM)  # as the parent does after a Ctrl-C of its own
    time.sleep(30)


def test_a_terminated_child_unwinds_as_an_interrupt_and_the_parent_raises_it():
    """The child turns SIGTERM into KeyboardInterrupt (a sweep then saves what it
    finished), and the parent raises KeyboardInterrupt in turn."""
    with pytest.raises(KeyboardInterrupt):
        in_fresh_process(_terminated_child)
