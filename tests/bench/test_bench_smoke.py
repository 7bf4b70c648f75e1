"""Smoke test of the benchmark: `python bench/run.py --quick` end to end (~30 s).

Runs on an embedded PostgreSQL, or on the server of MEDSETTLE_TEST_DATABASE_URL when set
(a fresh database there, dropped at the end).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LAST_LINE = re.compile(r"^settle/floor ratio: (\d+\.\d\d) \(settle (\d+\.\d)/s, floor (\d+\.\d)/s, p99 (\d+\.\d) ms\)$")


def test_bench_quick_runs_clean() -> None:
    env = dict(os.environ)
    env.pop("MEDSETTLE_DATABASE_URL", None)
    if os.environ.get("MEDSETTLE_TEST_DATABASE_URL"):
        env["MEDSETTLE_DATABASE_URL"] = os.environ["MEDSETTLE_TEST_DATABASE_URL"]
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--quick"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, f"last line: {lines[-1]!r}"
    ratio, settle, floor, p99 = map(float, match.groups())
    assert settle > 0 and floor > 0 and p99 > 0
    assert abs(ratio - settle / floor) <= 0.011
    errors = re.search(r"^errors: (\d+)", proc.stdout, re.MULTILINE)
    assert errors, proc.stdout[-2000:]
    assert int(errors.group(1)) == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # every phase table reports zero errors for both targets
    rows = re.findall(r"^\s+(service|floor)\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+(\d+)\s", proc.stdout, re.MULTILINE)
    assert len(rows) == 6 and all(int(e) == 0 for _, e in rows), proc.stdout
