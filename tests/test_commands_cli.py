"""The command layer itself: shared option parsing, and errors and signals → exit codes.

Every user error is one line on stderr (``mlpbench CMD: error: ...``) and exit 2; Ctrl-C
exits 130 and SIGTERM 143, with the sweep's "finished points are in ..." line and no
traceback.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mlpbench import commands, mlp
from mlpbench.commands import bench, common, info, main
from mlpbench.errors import FileError, InputError


def parse(*argv):
    return commands.build_parser().parse_args(list(argv))


def one_line(capsys, command: str) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith(f"mlpbench {command}: "), err
    assert "Traceback" not in err
    return err


# -- lists --------------------------------------------------------------------------------

@pytest.mark.parametrize("tokens", [
    "1,16,256", ["1", "16", "256"], "1 16 256", "1, 16, 256", ["1,16", "256"], [" 1 ,16 ", "256"],
])
def test_int_list_accepts_commas_and_spaces_alike(tokens):
    assert common.int_list(tokens) == [1, 16, 256]


@pytest.mark.parametrize("tokens, words", [
    ("1,,2", "empty item"), ("1,2,", "empty item"), (",1", "empty item"), ("", "empty item"),
    (["1", ""], "empty item"), ("1,x", "integers"), ("1.5", "integers"), ("4,0", "positive"),
    ("-3", "positive"),
])
def test_int_list_refuses_bad_items(tokens, words):
    with pytest.raises(ValueError, match=words):
        common.int_list(tokens)


def test_sizes_given_both_ways_make_the_same_sweep():
    a = bench.sweep_config(parse("bench", "--sizes", "1,16,256", "--impl", "numpy,numba"))
    b = bench.sweep_config(parse("bench", "--sizes", "1", "16", "256", "--impl", "numpy",
                                 "numba"))
    c = bench.sweep_config(parse("bench", "--sizes", "1 16 256", "--impl", "numpy",
                                 "--impl", "numba"))
    assert a == b == c
    assert a.sizes == [1, 16, 256] and a.implementations == ("numpy", "numba")


@pytest.mark.parametrize("argv, words", [
    (["bench", "--sizes", "1,,2"], "empty item"),
    (["bench", "--sizes", "1", "", "2"], "empty item"),
    (["bench", "--impl", "numpy,,numba"], "empty item"),
    (["run", "--sizes-n", "1,,4"], "empty item"),
    (["run", "--base", "1,2,,3"], "empty item"),
    (["bench", "--threads", "0"], "threads"),
    (["bench", "--threads", "many"], "number or 'all'"),
    (["run", "--threads", "two"], "number or 'all'"),
    (["bench", "--vary"], "expected one argument"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_options_are_one_line(argv, words, capsys, tmp_path):
    assert main([*argv, "--out", str(tmp_path / "x")] if argv[0] == "run" else argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("mlpbench") and "error:" in err and words in err
    assert not (tmp_path / "x").exists()


def test_impl_all_is_every_registered_implementation():
    cfg = bench.sweep_config(parse("bench"))
    assert cfg.implementations == mlp.IMPLEMENTATIONS
    both = bench.sweep_config(parse("bench", "--impl", "numpy,all"))
    assert both.implementations == mlp.IMPLEMENTATIONS  # each once, in registry order


def test_impl_help_does_not_list_a_fixed_set(capsys):
    for command in ("bench", "run", "check"):
        assert main([command, "--help"]) == 0
        text = " ".join(capsys.readouterr().out.split())
        assert "every registered implementation" in text


def test_threads_all_is_the_same_everywhere():
    from mlpbench.harness.machine import max_threads

    assert parse("bench", "--threads", "all").threads == "all"
    assert parse("run", "--threads", "all").threads == "all"
    assert common.resolve_threads("all") == max_threads()
    assert bench.sweep_config(parse("bench", "--threads", "all")).threads == max_threads()
    assert parse("bench", "--threads", "1").threads == 1
    assert parse("run").threads == 1 and parse("bench").threads is None


def test_help_and_version_return_zero(capsys):
    assert main(["--help"]) == 0
    assert "bench" in capsys.readouterr().out
    assert main(["--version"]) == 0
    assert "mlpbench" in capsys.readouterr().out


# -- errors → exit codes ---------------------------------------------------------------------

@pytest.mark.parametrize("exc, status, words", [
    (InputError("lr must be a finite number > 0, got nan"), 2, "error: lr must be"),
    (FileError("result file r.json does not exist"), 2, "error: result file r.json"),
    (OSError(errno.ENOSPC, "No space left on device", "/tmp/out/r.json"), 2,
     "error: /tmp/out/r.json: No space left on device"),
    (PermissionError(errno.EACCES, "Permission denied", "/etc/r.json"), 2,
     "error: /etc/r.json: Permission denied"),
    (MemoryError("Unable to allocate 7.28 TiB"), 2, "error: out of memory"),
    (KeyboardInterrupt(), 130, "interrupted"),
    (commands.Terminated(), 143, "terminated"),
])
def test_errors_become_one_line_and_an_exit_code(exc, status, words, monkeypatch, capsys):
    def boom(args):
        raise exc

    monkeypatch.setattr(info, "run", boom)
    assert main(["info"]) == status
    assert words in one_line(capsys, "info")


def test_interrupt_during_startup_is_one_line(monkeypatch, capsys):
    def interrupted():
        raise KeyboardInterrupt  # as if Ctrl-C came while the command modules import

    monkeypatch.setattr(commands, "build_parser", interrupted)
    assert main(["info"]) == 130
    err = capsys.readouterr().err.strip()
    assert err == "mlpbench: interrupted"


def test_broken_pipe_is_quiet(monkeypatch, capsys):
    def boom(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(info, "run", boom)
    assert main(["info"]) == 0
    assert capsys.readouterr().err == ""


def test_main_restores_the_signal_handlers():
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    main(["--version"])
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# -- signals, in a real process ----------------------------------------------------------------

def _spawn(*argv, cwd):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "mlpbench", *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigterm_during_a_sweep_keeps_the_points_and_says_where(tmp_path):
    out = tmp_path / "r.json"
    proc = _spawn("bench", "--vary", "n", "--sizes", "1,2,4,8,16,32,64,128", "--impl", "numpy",
                  "--d", "8", "--d-h", "5", "--m", "3", "--quick", "--no-progress",
                  "-o", str(out), cwd=tmp_path)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                doc = json.loads(out.read_text())
            except (OSError, ValueError):
                doc = None
            if doc and doc["points"] and not doc.get("complete"):
                break
            time.sleep(0.01)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert f"terminated; finished points are in {out}" in err
    assert f"--resume -o {out}" in err
    doc = json.loads(out.read_text())
    assert doc["complete"] is False and 1 <= len(doc["points"]) < 8


def test_ctrl_c_while_the_command_starts_gives_no_traceback(tmp_path):
    # The signal comes once main() has been called, while `info` imports numpy, numba and
    # threadpoolctl (the interpreter's own start-up, before any mlpbench code runs, is
    # beyond reach of any package).
    code = ("import sys; from mlpbench.commands import main; print('ready', flush=True); "
            "sys.exit(main(['info']))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout.readline() == "ready\n"
    time.sleep(0.1)  # into main(): its imports take longer than this
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert "Traceback" not in err, err
    if proc.returncode != 0:  # 0: it had finished already
        assert proc.returncode == 130 and err.strip().endswith(": interrupted"), err
