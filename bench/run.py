"""Settlements per second: the service against a bare-asyncpg floor, in one run.

    python bench/run.py [--duration 10] [--rounds 2] [--persons 10000] [--grow N]
                        [--concurrency 32,4] [--quick] [--profile out.svg]

One run: a fresh database (embedded PostgreSQL in a temporary directory, or a new
database on MEDSETTLE_DATABASE_URL's server, dropped at the end), ``alembic upgrade
head``, the demo world with ``--persons`` synthetic residents, then three processes
besides this one:

* the service: ``uvicorn app.main:create_app --factory --http app.kit.http:HttpProtocol`` (as
  ``medsettle serve`` runs it), one worker, on a free port;
* the floor: ``bench/floor_app.py``, raw asyncpg doing the least a settlement must do;
* the load generator: ``bench/loadgen.py --serve``, which drives one of them at a time.

Phases: a warm-up, then service and floor alternately (``--rounds`` times, order
swapped each round) for ``--duration`` seconds each: the mix at the high
concurrency, the 10-item outpatient encounter alone at the high concurrency, and the
mix at the low concurrency. With ``--grow N``, N settlements are then stored with bulk
SQL (bench/grow.py) and the high-concurrency mix is measured again.

The last line is ``settle/floor ratio: R (settle S/s, floor F/s, p99 P ms)``: R = S/F
for the mix at the high concurrency; P is the service's p99 at the low concurrency.

It cannot hang and leaves nothing behind: every wait for a child has a deadline (a
phase's reply: its duration + ``--reply-timeout``) and a child's failure is reported
with the tail of its stderr; on SIGTERM, SIGINT or any error every child (service,
floor, load generator, each in its own process group) and the embedded PostgreSQL are
stopped. Children also get SIGTERM from the kernel if this process dies without
cleaning up (Linux ``PR_SET_PDEATHSIG``); the embedded PostgreSQL, a daemon, is
stopped only by the cleanup.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import os
import secrets
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
warnings.filterwarnings("ignore", category=DeprecationWarning)

from bench import grow as grow_mod  # noqa: E402
from bench.loadgen import percentile  # noqa: E402

WORKLOAD_TITLES = {
    "mix": "mix of 10-item outpatient (11, community), 40-item inpatient (21, hospital), 3-item pharmacy (41)",
    "outpatient": "10-item outpatient only (med_type 11 at a community institution)",
    "pharmacy": "3-item pharmacy purchases (41), the person by person_id",
    "pharmacy_code": "3-item pharmacy purchases (41), the person by e-voucher code",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def say(msg: str) -> None:
    print(msg, flush=True)


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_status(pid: int, field_name: str) -> int:
    """A kB field of /proc/<pid>/status (VmHWM: peak resident set size)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, children: bool = False) -> float:
    """utime + stime of a process (and, with children, of its reaped children: exited backends)."""
    try:
        f = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(f[11]) + int(f[12]) + (int(f[13]) + int(f[14]) if children else 0)
        return ticks / CLK_TCK
    except (OSError, IndexError):
        return 0.0


def machine_cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine (all cores), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / CLK_TCK


def ppid_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])


def postgres_cpu_seconds(postmaster: int) -> float:
    """CPU of the PostgreSQL server: the postmaster, its live children (backends, walwriter,
    checkpointer...) and its reaped children (backends that exited)."""
    total = cpu_seconds(postmaster, children=True)
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if ppid_of(int(d.name)) == postmaster:
                    total += cpu_seconds(int(d.name))
            except (OSError, IndexError, ValueError):
                continue
    return total


def find_postmaster(db_url: str) -> int | None:
    """The postmaster's pid: the parent of one of our backends (only when the server is local)."""
    import asyncpg

    async def postmaster() -> int:
        conn = await asyncpg.connect(db_url)
        try:  # read while the backend lives: it exits with the connection
            return ppid_of(await conn.fetchval("SELECT pg_backend_pid()"))
        finally:
            await conn.close()

    try:
        return asyncio.run(postmaster())
    except (OSError, IndexError, ValueError):
        return None


class Terminated(BaseException):
    """SIGTERM (or SIGINT): unwind through every ``finally`` so the cleanup runs."""


_deferring = 0
_pending: list[str] = []


def _on_signal(signum: int, frame: Any) -> None:
    name = signal.Signals(signum).name
    if _deferring:
        _pending.append(name)
        return
    raise Terminated(name)


@contextlib.contextmanager
def signals_deferred() -> Any:
    """SIGTERM and SIGINT wait until the block is over: whatever the block starts is
    registered for the cleanup before a signal can unwind the stack. (A flag, not the
    signal mask: children would inherit a blocked SIGTERM.)"""
    global _deferring
    _deferring += 1
    try:
        yield
    finally:
        _deferring -= 1
        if not _deferring and _pending:
            name = _pending[0]
            _pending.clear()
            raise Terminated(name)


#: Every child process started, in order (all stopped by `cleanup`).
CHILDREN: list[subprocess.Popen] = []
_PR_SET_PDEATHSIG = 1


def _child_preexec() -> None:
    """In the child, before exec: SIGTERM when this process dies (Linux), whatever the cause."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    except (OSError, AttributeError):
        pass


def spawn(cmd: list[str], **kw: Any) -> subprocess.Popen:
    """A child in a process group of its own (its whole group can be stopped, and a Ctrl-C
    in the terminal reaches only this process, which then stops it), registered at once."""
    with signals_deferred():
        proc = subprocess.Popen(cmd, start_new_session=True, preexec_fn=_child_preexec, **kw)
        CHILDREN.append(proc)
    return proc


def wait_http(url: str, proc: subprocess.Popen, timeout: float, logfile: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited ({proc.returncode}):\n{tail(logfile)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} not up after {timeout} s:\n{tail(logfile)}")


def tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(proc: subprocess.Popen | None, timeout: float = 10) -> None:
    """SIGTERM to the child's whole process group, SIGKILL after ``timeout`` s; then make
    sure nothing of the group is left (even when the child itself had already exited)."""
    if proc is None:
        return
    if proc.poll() is None:
        _signal_group(proc.pid, signal.SIGTERM)
        _signal_group(proc.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM once continued
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    _signal_group(proc.pid, signal.SIGKILL)


@dataclass
class Server:
    name: str
    proc: subprocess.Popen
    port: int
    path: str
    logfile: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.path}"


def start_uvicorn(name: str, factory: str, env: dict[str, str], path: str, workdir: Path) -> Server:
    port = free_port()
    logfile = workdir / f"{name}.log"
    cmd = [
        sys.executable, "-m", "uvicorn", factory, "--factory", "--host", "127.0.0.1", "--port", str(port),
        "--workers", "1", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    if name == "service":  # as `medsettle serve` runs it (app.kit.http); the floor runs plain uvicorn
        cmd += ["--http", "app.kit.http:HttpProtocol"]
    with open(logfile, "wb") as out:
        proc = spawn(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    server = Server(name, proc, port, path, logfile)
    wait_http(f"http://127.0.0.1:{port}/healthz", proc, 90, logfile)
    return server


class LoadGen:
    """bench/loadgen.py --serve as a child process: one JSON line in, one out, each reply
    awaited with a deadline."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.logfile = workdir / "loadgen.log"
        with open(self.logfile, "wb") as err:
            self.proc = spawn(
                [sys.executable, str(REPO / "bench" / "loadgen.py"), "--serve"],
                cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
            )  # fmt: skip
        self._buffer = b""

    def _failed(self, what: str, *, ended: bool = False) -> RuntimeError:
        if ended:  # its output is closed: it is exiting, give it a moment to be reaped
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(2)
        status = self.proc.poll()
        state = f"exited with {status}" if status is not None else "still running"
        return RuntimeError(f"load generator ({state}): {what}; its stderr:\n{tail(self.logfile)}")

    def call(self, timeout: float, **cmd: Any) -> dict[str, Any]:
        """Send one command; its reply within ``timeout`` s, else an error (the cleanup stops it)."""
        assert self.proc.stdin and self.proc.stdout
        try:
            self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            raise self._failed("could not send a command", ended=True) from None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise self._failed(f"no reply within {timeout:.0f} s to {cmd.get('op', 'a phase')}")
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise self._failed("closed its output", ended=True)
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def close(self) -> None:
        try:
            if self.proc.poll() is None and self.proc.stdin:
                self.proc.stdin.write(b'{"op": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        stop(self.proc)


# --------------------------------------------------------------------------- database


@dataclass
class Database:
    url: str  # libpq URL of the benchmark database
    cleanup: Any = None


def open_database(workdir_parent: str | None) -> Database:
    from app.kit.db import to_libpq_url, with_database

    base = os.environ.get("MEDSETTLE_DATABASE_URL")
    if base:
        import asyncpg

        admin = to_libpq_url(base)
        name = "medsettle_bench_" + secrets.token_hex(4)

        async def create() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()

        async def drop() -> None:
            conn = await asyncpg.connect(admin)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await conn.close()

        asyncio.run(create())
        log(f"database {name} on MEDSETTLE_DATABASE_URL's server")
        return Database(with_database(admin, name), lambda: asyncio.run(drop()))

    from app.kit.embedded_pg import start_embedded

    # A short path: the unix socket lives in the data directory (~100 bytes max).
    root = tempfile.mkdtemp(prefix="msb", dir=workdir_parent or ("/tmp" if os.path.isdir("/tmp") else None))
    os.chmod(root, 0o755)
    log(f"embedded PostgreSQL in {root}")
    try:
        embedded = start_embedded(root, delete_on_stop=True)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise

    def cleanup() -> None:
        embedded.stop()
        shutil.rmtree(root, ignore_errors=True)

    return Database(to_libpq_url(embedded.url), cleanup)


def prepare(db_url: str, persons: int, years: list[int]) -> dict[str, Any]:
    """Migrations, the demo world, the floor's tables; returns facts for the report."""
    from app.demo.world import load_demo
    from app.kit.db import create_engine
    from app.kit.migrate import upgrade_head

    t0 = time.monotonic()
    upgrade_head(db_url)
    t1 = time.monotonic()

    async def load() -> tuple[int, str]:
        import asyncpg

        from bench.floor_app import setup

        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                await load_demo(conn, persons=persons)
        finally:
            await engine.dispose()
        conn = await asyncpg.connect(db_url)
        try:
            await setup(conn, years)
            await conn.execute("VACUUM ANALYZE")
            count = await conn.fetchval("SELECT count(*) FROM persons")
            version = await conn.fetchval("SHOW server_version")
        finally:
            await conn.close()
        return count, version

    count, version = asyncio.run(load())
    log(f"migrated in {t1 - t0:.1f} s; demo world with {count} persons loaded in {time.monotonic() - t1:.1f} s")
    return {"persons": count, "server_version": version}


def issue_vouchers(db_url: str, codes: list[list[str]]) -> None:
    """Store e-voucher codes as the wallet would have issued them (digest only)."""
    import asyncpg

    from app.evouchers.codes import hash_code

    async def run() -> None:
        conn = await asyncpg.connect(db_url)
        try:
            now = await conn.fetchval("SELECT now()")
            expires = await conn.fetchval("SELECT now() + interval '1 day'")
            await conn.copy_records_to_table(
                "e_vouchers",
                records=[(hash_code(code), person, now, expires) for code, person in codes],
                columns=["code_hash", "person_id", "issued_at", "expires_at"],
            )
            # As autovacuum would soon, but before the phases rather than during one (the bulk
            # insert would set it off mid-phase): plans made while the table looked empty
            # scan it. The checkpoint writes the loaded pages back now, not in a phase.
            await conn.execute("VACUUM ANALYZE e_vouchers")
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(run())


def sql(db_url: str, *statements: str) -> None:
    import asyncpg

    async def run() -> None:
        conn = await asyncpg.connect(db_url)
        try:
            for s in statements:
                await conn.execute(s)
        finally:
            await conn.close()

    asyncio.run(run())


# --------------------------------------------------------------------------- phases


@dataclass
class Result:
    target: str
    workload: str
    concurrency: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    elapsed: float = 0.0
    ok: int = 0
    errors: int = 0
    rss_kib: int = 0
    cpu: dict[str, float] = field(
        default_factory=lambda: {"server": 0.0, "postgres": 0.0, "loadgen": 0.0, "other": 0.0}
    )

    def add(self, run: dict[str, Any], rss: int, cpu: dict[str, float]) -> None:
        self.runs.append(run)
        self.latencies.extend(run.pop("latencies_ms"))
        self.elapsed += run["elapsed"]
        self.ok += run["ok"]
        self.errors += run["errors"]
        self.rss_kib = max(self.rss_kib, rss)
        for k, v in cpu.items():
            self.cpu[k] += v

    @property
    def throughput(self) -> float:
        return self.ok / self.elapsed if self.elapsed else 0.0

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q)

    def cpu_pct(self, who: str) -> float:
        return 100 * self.cpu[who] / self.elapsed if self.elapsed else 0.0


class Bench:
    def __init__(
        self, args: argparse.Namespace, service: Server, floor: Server, loadgen: LoadGen, postmaster: int | None
    ) -> None:
        self.args = args
        self.postmaster = postmaster
        self.targets = {"service": service, "floor": floor}
        self.loadgen = loadgen

    def phase(self, target: str, workload: str, concurrency: int, duration: float, into: Result | None) -> dict:
        server = self.targets[target]
        all0, srv0 = machine_cpu_seconds(), cpu_seconds(server.proc.pid)
        pg0 = postgres_cpu_seconds(self.postmaster) if self.postmaster else 0.0
        run = self.loadgen.call(
            duration + self.args.reply_timeout,
            url=server.url, workload=workload, concurrency=concurrency, duration=duration,
            client=self.args.client, latencies=True,
        )  # fmt: skip
        server_cpu = cpu_seconds(server.proc.pid) - srv0
        pg_cpu = postgres_cpu_seconds(self.postmaster) - pg0 if self.postmaster else float("nan")
        cpu = {
            "server": server_cpu,
            "postgres": pg_cpu,
            "loadgen": run["loadgen_cpu_s"],
            # everything else on the machine (other users of these cores)
            "other": machine_cpu_seconds() - all0 - server_cpu - run["loadgen_cpu_s"] - (pg_cpu if self.postmaster else 0),
        }
        if server.proc.poll() is not None:
            raise RuntimeError(f"{target} exited:\n{tail(server.logfile)}")
        rss = proc_status(server.proc.pid, "VmHWM")
        log(
            f"{target:<7} {workload:<10} c={concurrency:<3} {run['throughput']:8.1f}/s  p50 {run['p50']:6.1f}  "
            f"p99 {run['p99']:7.1f} ms  errors {run['errors']}  statuses {run['statuses']}"
        )
        for sample in run["error_samples"]:
            log(f"    {sample}")
        if into is not None:
            into.add(run, rss, cpu)
        return run

    def group(self, workload: str, concurrency: int) -> dict[str, Result]:
        results = {t: Result(t, workload, concurrency) for t in ("service", "floor")}
        for r in range(self.args.rounds):
            order = ("service", "floor") if r % 2 == 0 else ("floor", "service")
            for target in order:
                self.phase(target, workload, concurrency, self.args.duration, results[target])
        return results

    def voucher_group(self, concurrency: int, db_url: str) -> dict[str, Result]:
        """The service alone: pharmacy purchases by person_id against the same purchases by
        e-voucher code, alternating. Every code phase's codes are issued before the first
        phase (their digests stored, valid for a day, more than a phase can use), then
        vacuumed and checkpointed: no phase follows a bulk load whose writing-back would
        fall on it alone."""
        results = {w: Result("service", w, concurrency) for w in ("pharmacy", "pharmacy_code")}
        server = self.targets["service"]
        # Twice the turns at half the length: the same time in all, but a drift of the
        # machine's speed (seen here: ±15 % between 10 s phases) falls more evenly on both.
        turns, duration = 2 * self.args.rounds, self.args.duration / 2
        codes: list[list[str]] = []
        for _ in range(turns):
            count = int(6000 * duration) + 1000
            codes += self.loadgen.call(
                self.args.reply_timeout, op="vouchers", url=server.url, workload="pharmacy_code", count=count
            )["codes"]
        issue_vouchers(db_url, codes)
        for r in range(turns):
            order = ("pharmacy", "pharmacy_code") if r % 2 == 0 else ("pharmacy_code", "pharmacy")
            for workload in order:
                self.phase("service", workload, concurrency, duration, results[workload])
        return results

    def warmup(self, seconds: float) -> None:
        for target in ("service", "floor"):
            self.phase(target, "mix", self.args.high, seconds, None)


def table(title: str, results: dict[str, Result], args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        f"== {title}",
        f"   concurrency {results['service'].concurrency}, {args.rounds} x {args.duration:g} s per target, alternating",
        f"   {'target':<8} {'settle/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9} "
        f"{'peak RSS':>9}  {'CPU% server/postgres/loadgen/other':>34}",
    ]
    for name in ("service", "floor"):
        r = results[name]
        cpu = "/".join(f"{r.cpu_pct(k):.0f}" for k in ("server", "postgres", "loadgen", "other"))
        lines.append(
            f"   {name:<8} {r.throughput:9.1f} {r.p(50):8.2f} {r.p(95):8.2f} {r.p(99):8.2f} {r.errors:7d} "
            f"{r.ok + r.errors:9d} {r.rss_kib / 1024:7.1f}Mi  {cpu:>34}"
        )
    s, f = results["service"].throughput, results["floor"].throughput
    lines.append(f"   service/floor throughput: {s / f if f else float('nan'):.2f}")
    return lines


def settlement_paths(service: Server) -> dict[str, int]:
    """How the service decided its settlements so far (``medsettle_settlement_paths_total``:
    optimistic, or locked and why the optimistic write declined), from its /metrics."""
    paths: dict[str, int] = {}
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{service.port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError as exc:
        log(f"/metrics not read: {exc!r}")
        return paths
    for line in text.splitlines():
        if line.startswith("medsettle_settlement_paths_total{"):
            labels, _, value = line.rpartition(" ")
            path = labels.split('path="', 1)[1].split('"', 1)[0]
            reason = labels.split('reason="', 1)[1].split('"', 1)[0]
            if float(value):
                paths[f"{path}/{reason}"] = int(float(value))
    return paths


def voucher_table(results: dict[str, Result], args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        f"== 3-item pharmacy purchases (41), the service only: by person_id and by e-voucher code, c={args.high}",
        f"   {2 * args.rounds} x {args.duration / 2:g} s per workload, alternating",
        f"   {'person by':<10} {'settle/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7} {'requests':>9} "
        f"{'CPU% server/postgres/loadgen/other':>34}",
    ]
    for name, label in (("pharmacy", "person_id"), ("pharmacy_code", "code")):
        r = results[name]
        cpu = "/".join(f"{r.cpu_pct(k):.0f}" for k in ("server", "postgres", "loadgen", "other"))
        lines.append(
            f"   {label:<10} {r.throughput:9.1f} {r.p(50):8.2f} {r.p(95):8.2f} {r.p(99):8.2f} {r.errors:7d} "
            f"{r.ok + r.errors:9d}  {cpu:>34}"
        )
    c, p = results["pharmacy_code"].throughput, results["pharmacy"].throughput
    lines.append(f"   e-voucher/person_id throughput: {c / p if p else float('nan'):.2f}")
    return lines


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per measured phase (default 10)")
    p.add_argument("--rounds", type=int, default=2, help="service/floor alternations per phase group (default 2)")
    p.add_argument("--warmup", type=float, default=5.0, help="warm-up seconds per target (default 5)")
    p.add_argument("--persons", type=int, default=None, help="synthetic persons (default 10000; --quick: 200)")
    p.add_argument("--grow", type=int, default=0, metavar="N", help="then store N settlements and measure again")
    p.add_argument("--concurrency", default="32,4", help="HIGH[,LOW] (default 32,4)")
    p.add_argument("--templates", type=int, default=3000, help="pre-generated bodies per encounter kind")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw", help="load generator's HTTP client")
    p.add_argument("--pool-size", type=int, default=32, help="service and floor database pool size (default 32)")
    p.add_argument("--profile", metavar="PATH", help="after measuring, py-spy record the service under the c=HIGH mix")
    p.add_argument("--profile-seconds", type=float, default=20.0)
    p.add_argument("--quick", action="store_true", help="smoke test: 200 persons, 1 round of 2 s phases")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument(
        "--only", choices=("vouchers",),
        help="measure only this group (vouchers: the e-voucher table) — for iterating; no ratio line",
    )  # fmt: skip
    p.add_argument("--keep-db", action="store_true", help="with MEDSETTLE_DATABASE_URL: keep the database (debugging)")
    p.add_argument(
        "--reply-timeout", type=float, default=120.0,
        help="longest wait for the load generator beyond a phase's duration, and for its start (default 120 s)",
    )  # fmt: skip
    args = p.parse_args(argv)
    high, _, low = args.concurrency.partition(",")
    args.high, args.low = int(high), int(low or 4)
    if args.quick:
        args.persons = args.persons or 200
        args.duration, args.rounds, args.warmup, args.templates = 2.0, 1, 1.0, 300
    args.persons = args.persons or 10_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return run(args)
    except Terminated as exc:
        log(f"{exc}: stopped; children and database cleaned up")
        return 128 + int(getattr(signal, str(exc), signal.SIGTERM))
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(args: argparse.Namespace) -> int:
    started = time.time()
    workdir = Path(tempfile.mkdtemp(prefix="medsettle-bench-"))
    db: Database | None = None
    service = floor = None
    loadgen = None
    out: list[str] = []
    report: dict[str, Any] = {"args": vars(args)}
    try:
        with signals_deferred():  # the database is named here before a signal can unwind
            db = open_database(None)
        this_year = time.localtime().tm_year
        facts = prepare(db.url, args.persons, [this_year - 1, this_year])
        report["facts"] = facts
        env = dict(os.environ)
        env.update(
            MEDSETTLE_DATABASE_URL=db.url,
            MEDSETTLE_LOG_LEVEL="WARNING",
            MEDSETTLE_DB_POOL_SIZE=str(args.pool_size),
            MEDSETTLE_DB_MAX_OVERFLOW="8",
            MEDSETTLE_DATA_DIR=str(workdir / "data"),
            BENCH_FLOOR_DSN=db.url,
            BENCH_FLOOR_POOL_SIZE=str(args.pool_size),
            PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
        )
        env.pop("MEDSETTLE_BOOTSTRAP_ADMIN_KEY", None)
        service = start_uvicorn("service", "app.main:create_app", env, "/v1/settlements", workdir)
        wait_http(f"http://127.0.0.1:{service.port}/readyz", service.proc, 30, service.logfile)
        floor = start_uvicorn("floor", "bench.floor_app:create_app", env, "/floor/settlements", workdir)
        log(f"service pid {service.proc.pid} on :{service.port}, floor pid {floor.proc.pid} on :{floor.port}")
        loadgen = LoadGen(workdir, env)
        t0 = time.monotonic()
        loadgen.call(
            args.reply_timeout,
            op="init", persons=args.persons, templates=args.templates, seed=20261123, tag=secrets.token_hex(3),
            host="127.0.0.1", urls=[service.url, floor.url],
        )  # fmt: skip
        log(f"load generator ready ({args.templates} bodies per kind, {time.monotonic() - t0:.1f} s)")
        postmaster = find_postmaster(db.url)
        bench = Bench(args, service, floor, loadgen, postmaster)
        bench.warmup(args.warmup)
        # The demo world was analyzed with no settlements: plans made then (the foreign-key
        # checks of settlement_deltas) scan settlements sequentially until
        # autovacuum's next analyze (up to a minute in), at several times the cost per
        # settlement. Analyze now, with the warm-up's rows, to measure the steady state.
        sql(db.url, "ANALYZE", "CHECKPOINT")

        groups = [("mix", args.high), ("outpatient", args.high), ("mix", args.low)]
        results: dict[tuple[str, int], dict[str, Result]] = {}
        for workload, conc in groups if args.only is None else []:
            results[(workload, conc)] = bench.group(workload, conc)
        # The phases above stored ~100,000 settlements: autovacuum would now work on them
        # during whichever e-voucher phase it lands in, and that group compares two ways in
        # (by person_id, by code) with each other. Settle the database first.
        sql(db.url, "VACUUM ANALYZE", "CHECKPOINT")
        vouchers = bench.voucher_group(args.high, db.url)
        paths = settlement_paths(service)
        report["settlement_paths"] = paths
        if args.only == "vouchers":
            for line in voucher_table(vouchers, args):
                say(line)
            say(f"   settlement paths of the whole run (/metrics): {paths}")
            return 0
        for (workload, conc), res in results.items():
            out += table(f"{WORKLOAD_TITLES[workload]}, c={conc}", res, args)
        out += voucher_table(vouchers, args)
        report["phases"] = {
            f"{w}@{c}": {t: summary(r) for t, r in res.items()} for (w, c), res in results.items()
        }
        report["e_voucher"] = {w: summary(r) for w, r in vouchers.items()}
        mix = results[("mix", args.high)]
        out_ratio = results[("outpatient", args.high)]
        low = results[("mix", args.low)]
        for line in out:
            say(line)
        out = []

        if args.grow:
            grown = grow_phase(args, db, bench)
            empty_s = mix["service"].throughput
            after = grown["service"].throughput
            diff = 100 * (after - empty_s) / empty_s if empty_s else float("nan")
            gf = 100 * (grown["floor"].throughput - mix["floor"].throughput) / mix["floor"].throughput
            out += table(f"after --grow {args.grow}: {WORKLOAD_TITLES['mix']}, c={args.high}", grown, args)
            out += [
                "",
                f"== growth: service c={args.high} mix, empty database {empty_s:.1f}/s, "
                f"after {args.grow:,} stored settlements {after:.1f}/s: {diff:+.1f}% "
                f"(p99 {mix['service'].p(99):.1f} -> {grown['service'].p(99):.1f} ms; floor {gf:+.1f}%)",
            ]
            report["grow"] = {
                "n": args.grow, "empty": empty_s, "after": after, "diff_pct": diff,
                "phases": {t: summary(r) for t, r in grown.items()},
            }  # fmt: skip

        if args.profile:
            profile(args, service, bench)

        errors = sum(r.errors for res in results.values() for r in res.values()) + sum(
            r.errors for r in vouchers.values()
        )
        s, f = mix["service"].throughput, mix["floor"].throughput
        ratio = s / f if f else 0.0
        o_s, o_f = out_ratio["service"].throughput, out_ratio["floor"].throughput
        out += [
            "",
            f"outpatient-only ratio at c={args.high}: {o_s / o_f if o_f else 0:.2f} (settle {o_s:.1f}/s, floor {o_f:.1f}/s)",
            f"c={args.low} mix: service p50/p95/p99 {low['service'].p(50):.2f}/{low['service'].p(95):.2f}/"
            f"{low['service'].p(99):.2f} ms, floor {low['floor'].p(50):.2f}/{low['floor'].p(95):.2f}/"
            f"{low['floor'].p(99):.2f} ms",
            f"errors: {errors}   service peak RSS: {max(r['service'].rss_kib for r in results.values()) / 1024:.1f} MiB"
            f"   run took {time.time() - started:.0f} s",
            f"settle/floor ratio: {ratio:.2f} (settle {s:.1f}/s, floor {f:.1f}/s, p99 {low['service'].p(99):.1f} ms)",
        ]
        report.update(ratio=ratio, settle=s, floor=f, p99_low=low["service"].p(99), errors=errors)
        if args.json:
            Path(args.json).write_text(json.dumps(report, indent=2, default=str))
        for line in out:
            say(line)
        return 0
    finally:
        cleanup(loadgen, service, floor, db, args, workdir)


def cleanup(
    loadgen: LoadGen | None, service: Server | None, floor: Server | None, db: Database | None,
    args: argparse.Namespace, workdir: Path,
) -> None:  # fmt: skip
    """Stop everything this run started, each step on its own: one failure must not leak the
    rest. SIGTERM and SIGINT wait until it is done (a second Ctrl-C must not leave the
    embedded PostgreSQL running)."""
    with signals_deferred():
        steps: list[tuple[str, Any]] = [("load generator", loadgen.close if loadgen else None)]
        # Every child, also one whose start was interrupted before it got a name here.
        for proc in reversed(CHILDREN):
            steps.append((f"child {proc.pid}", lambda proc=proc: stop(proc)))
        if db is not None and args.keep_db and os.environ.get("MEDSETTLE_DATABASE_URL"):
            log(f"kept database {db.url}")
        elif db is not None and db.cleanup is not None:
            steps.append(("database", db.cleanup))
        steps.append(("work directory", lambda: shutil.rmtree(workdir, ignore_errors=True)))
        for name, step in steps:
            if step is None:
                continue
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - best effort, keep going
                log(f"cleanup of {name} failed: {exc!r}")
        CHILDREN.clear()


def summary(r: Result) -> dict[str, Any]:
    return {
        "throughput": r.throughput, "p50": r.p(50), "p95": r.p(95), "p99": r.p(99), "errors": r.errors,
        "requests": r.ok + r.errors, "rss_mib": r.rss_kib / 1024,
        "cpu_pct": {k: r.cpu_pct(k) for k in r.cpu},
    }  # fmt: skip


def grow_phase(args: argparse.Namespace, db: Database, bench: Bench) -> dict[str, Result]:
    t0 = time.monotonic()
    grow_mod.grow(db.url, args.grow, args.persons, log=log)
    log(f"grew by {args.grow:,} settlements in {time.monotonic() - t0:.0f} s; VACUUM ANALYZE, CHECKPOINT")
    sql(db.url, "VACUUM ANALYZE", "CHECKPOINT")
    bench.warmup(args.warmup)
    sql(db.url, "ANALYZE", "CHECKPOINT")
    return bench.group("mix", args.high)


def profile(args: argparse.Namespace, service: Server, bench: Bench) -> None:
    """py-spy record of the service while the load generator drives it (not measured).

    Summarise a ``.txt`` (collapsed stacks) with ``python bench/profile_summary.py PATH``."""
    spy = shutil.which("py-spy")
    if spy is None:
        log("py-spy not installed (pip install py-spy): no profile")
        return
    fmt = "speedscope" if args.profile.endswith(".json") else ("raw" if args.profile.endswith(".txt") else "flamegraph")
    cmd = [spy, "record", "--pid", str(service.proc.pid), "--rate", "200", "--duration", str(int(args.profile_seconds)),
           "--format", fmt, "--output", args.profile]  # fmt: skip
    # Blocking sampling (py-spy pauses the process for each sample): whole stacks, at the
    # price of a slower service while profiling; this phase is not part of the results.
    log("profiling: " + " ".join(cmd))
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as spy_proc:
        time.sleep(1)
        bench.phase("service", "mix", args.high, args.profile_seconds - 1, None)
        _, err = spy_proc.communicate(timeout=60)
    log(f"profile written to {args.profile} ({err.decode(errors='replace').strip().splitlines()[-1:]})")


if __name__ == "__main__":
    sys.exit(main())
