"""`bench/run.py` cannot hang and leaves nothing behind: SIGTERM in the middle of a run, or a
load generator that stops answering, ends the run with every child stopped (service, floor,
load generator) and the embedded PostgreSQL gone."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MARK = "MEDSETTLE_BENCH_TEST_MARK"


def _processes() -> dict[int, tuple[str, bytes]]:
    """pid -> (command line, environment) of every process we may read."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmdline = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                out[int(d.name)] = (cmdline, (d / "environ").read_bytes())
            except OSError:
                continue
    return out


def _ours(token: str, pg_root: str | None) -> list[str]:
    """Processes started by the run: they carry the token in their environment, or (the
    embedded PostgreSQL, started by pg_ctl) name the run's data directory."""
    found = []
    for pid, (cmdline, environ) in _processes().items():
        if pid == os.getpid():
            continue
        if f"{MARK}={token}".encode() in environ or (pg_root and pg_root in cmdline):
            found.append(f"{pid}: {cmdline[:200]}")
    return found


def _start(log: Path, *extra: str, server: bool = False) -> tuple[subprocess.Popen, str]:
    token = secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if k != "MEDSETTLE_DATABASE_URL"}
    if server and os.environ.get("MEDSETTLE_TEST_DATABASE_URL"):
        env["MEDSETTLE_DATABASE_URL"] = os.environ["MEDSETTLE_TEST_DATABASE_URL"]
    env[MARK] = token
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "bench" / "run.py"), "--quick", *extra],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    return proc, token


def _wait_for(log: Path, proc: subprocess.Popen, pattern: str, timeout: float = 150) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text(errors="replace"))
        if match:
            return match
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"{pattern!r} not seen:\n" + log.read_text(errors="replace")[-3000:])


def _finish(proc: subprocess.Popen, timeout: float) -> int:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise AssertionError("bench/run.py did not end") from None


def _assert_nothing_left(token: str, pg_root: str | None, log: Path) -> None:
    deadline = time.monotonic() + 5  # killed processes may take a moment to be reaped
    while (left := _ours(token, pg_root)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "\n".join(left) + "\n" + log.read_text(errors="replace")[-3000:]


def test_sigterm_mid_run_stops_every_child_and_the_embedded_postgres() -> None:
    log = Path(tempfile.mkstemp(prefix="bench-sigterm-", suffix=".log")[1])
    proc, token = _start(log)
    try:
        pg_root = _wait_for(log, proc, r"embedded PostgreSQL in (\S+)").group(1)
        started = _wait_for(log, proc, r"service pid (\d+) on :\d+, floor pid (\d+)")
        _wait_for(log, proc, r"load generator ready")
        time.sleep(0.5)  # inside the warm-up phase
        running = _ours(token, pg_root)
        # the service, the floor, the load generator and PostgreSQL (postmaster and its processes)
        assert any(started.group(1) + ":" in p for p in running) and any("loadgen.py" in p for p in running)
        assert any(pg_root in p for p in running), running
        os.kill(proc.pid, signal.SIGTERM)
        assert _finish(proc, 60) == 128 + signal.SIGTERM, log.read_text()[-3000:]
        assert "SIGTERM: stopped" in log.read_text()
        _assert_nothing_left(token, pg_root, log)
        assert not Path(pg_root).exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        log.unlink(missing_ok=True)


def test_a_silent_load_generator_is_an_error_within_the_timeout(tmp_path: Path) -> None:
    from bench.run import LoadGen, stop

    loadgen = LoadGen(tmp_path, dict(os.environ))
    try:
        os.kill(loadgen.proc.pid, signal.SIGSTOP)  # alive, silent: the hang of issue 13
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=r"load generator \(still running\): no reply within 1 s"):
            loadgen.call(1.0, op="init", persons=1, templates=1, seed=1, tag="abcdef", host="127.0.0.1", urls=[])
        assert time.monotonic() - t0 < 5
    finally:
        stop(loadgen.proc, timeout=5)
    assert loadgen.proc.poll() is not None


def test_a_load_generator_that_fails_is_an_error_with_its_stderr(tmp_path: Path) -> None:
    from bench.run import LoadGen, stop

    loadgen = LoadGen(tmp_path, dict(os.environ))
    try:
        # A phase before "init": the load generator's assertion ends it; its traceback is the news.
        with pytest.raises(RuntimeError, match=r"(?s)load generator \(exited with 1\): closed its output.*init first"):
            loadgen.call(60.0, url="http://127.0.0.1:9/x", workload="mix", concurrency=1, duration=1)
    finally:
        stop(loadgen.proc, timeout=5)
