"""`medsettle serve --demo` on the embedded PostgreSQL, stopped on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from app.cli import DEFAULT_HOST, DEFAULT_PORT, build_parser


def test_cli_defaults() -> None:
    args = build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.demo) == (DEFAULT_HOST, DEFAULT_PORT, False) == ("127.0.0.1", 8000, False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_demo_on_embedded_postgres_and_stop_on_sigterm() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="msc", dir="/tmp"))
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEDSETTLE_")}
    env["MEDSETTLE_DATA_DIR"] = str(data_dir)
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        keys: dict[str, str] = {}
        assert proc.stdout is not None
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("msk_"):
                keys[parts[0]] = parts[1]
            if "institution:H11010000001" in keys:
                break
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "service did not become ready"
            time.sleep(0.1)
        r = httpx.get(
            f"http://127.0.0.1:{port}/v1/persons/P441900000001",
            headers={"Authorization": f"Bearer {keys['ops']}"},
        )
        assert r.status_code == 200 and r.json()["insured_region"] == "441900"
        assert (data_dir / "pg" / "postmaster.pid").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    assert not (data_dir / "pg" / "postmaster.pid").exists()  # PostgreSQL stopped with the service
