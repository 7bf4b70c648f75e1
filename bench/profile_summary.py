"""Summarise a py-spy collapsed-stack profile (``py-spy record --format raw``) of the service.

    python bench/profile_summary.py profile.txt

Prints the top self frames and the share of samples (event-loop thread only) whose stack
passes through each part of the settlement path. Shares are inclusive and overlap
(a sample in ``insert_settlement_optimistic`` is also in ``settle_optimistic``).
"""

from __future__ import annotations

import sys
from collections import Counter

# (label, substring of a frame "function (file:line)")
COMPONENTS = [
    ("whole request in the app (RequestContextMiddleware down)", "RequestContextMiddleware.__call__ ("),
    ("FastAPI routing and dependencies (routes other than settle)", "solve_dependencies ("),
    ("serve_settle (the settle route, plain ASGI)", "serve_settle ("),
    ("  body: one pydantic-core pass", "parse_settlement_request ("),
    ("  connection: held / from the pool", "HeldConnections.connection ("),
    ("  API key (cached)", "principal_for_key ("),
    ("  SettlementService.settle_optimistic", "SettlementService.settle_optimistic ("),
    ("    load_person_state (statement + decoding)", "load_person_state ("),
    ("    reference cache lookups", "ReferenceCache."),
    ("    engine settle() (app/engine)", "settle (app/engine/settle.py"),
    ("    render() (response dict)", "render ("),
    ("    dumps() (response JSON text, orjson)", "dumps (service.py"),
    ("    insert_settlement_optimistic (arguments + statement)", "insert_settlement_optimistic ("),
    ("  SettlementService.settle (the locked transaction)", "SettlementService.settle ("),
    ("  send_json", "send_json ("),
    ("all asyncpg statement executions", "Connection._do_execute ("),
    ("SQLAlchemy pool checkout (greenlets)", "greenlet_spawn ("),
    ("uvicorn HTTP parsing (data_received)", "HttpToolsProtocol.data_received ("),
    ("uvicorn response send", "RequestResponseCycle.send ("),
]


def load(path: str) -> list[tuple[list[str], int]]:
    samples = []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if any("Thread._bootstrap" in f for f in frames):
            continue  # anyio worker threads idling in Condition.wait
        samples.append((frames, int(count)))
    return samples


def main(path: str) -> None:
    samples = load(path)
    total = sum(n for _, n in samples)
    print(f"{total} samples of the event-loop thread")
    selfc: Counter[str] = Counter()
    for frames, n in samples:
        selfc[frames[-1]] += n
    print("\ntop self frames:")
    for frame, n in selfc.most_common(20):
        print(f"  {100 * n / total:5.1f}%  {frame}")
    print("\ninclusive share by part of the path:")
    for label, key in COMPONENTS:
        n = sum(c for frames, c in samples if any(key in f for f in frames))
        print(f"  {100 * n / total:5.1f}%  {label}")


if __name__ == "__main__":
    main(sys.argv[1])
