"""Load generator for the settlement benchmark: a separate process, cheap per request.

It drives one URL at a fixed concurrency for a fixed duration over keep-alive
HTTP/1.1 connections and reports count, errors (non-2xx and broken
connections), throughput and latency percentiles.

Requests are ``POST /v1/settlements`` bodies per api.md, pre-generated before the
clock starts: a pool of templates (random synthetic person, an institution of the
right kind in the person's region, items from the demo catalog plus a few codes
that are not in it), each split around its ``encounter_id``. Per request only a
unique encounter id and a unique ``Idempotency-Key`` are spliced in (bytes
concatenation), so the generator's own cost stays a few tens of microseconds.

Two clients:

* ``raw`` (default): a hand-written asyncio HTTP/1.1 client on ``asyncio.Protocol``
  (uvloop when installed). It understands ``Content-Length`` and chunked bodies,
  which is all uvicorn sends.
* ``httpx``: ``httpx.AsyncClient`` with the same keep-alive pool, for comparison:
  ``python bench/loadgen.py --client httpx ...`` — see docs/performance.md for
  the measured cost of each.

Modes:

* CLI: ``python bench/loadgen.py --url http://127.0.0.1:8000/v1/settlements
  --concurrency 32 --duration 10 --workload mix --persons 10000`` prints one JSON
  result.
* ``--serve``: reads JSON commands from stdin, one a line, and answers each with
  one JSON line on stdout (used by bench/run.py so templates are built once).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REGIONS = ("441900", "442000", "510900")  # app.demo.world: synthetic person i lives in REGIONS[i % 3]
UNKNOWN_CODES = ("XZ99ZZZ999A999999999", "999999999999999", "C9999999999999999", "ZZNOTINCATALOG0001")
DIAGNOSES_OUT = (["J06.9"], ["I10"], ["E11.9"], ["K29.7"], ["M54.5"])
DIAGNOSES_IN = (["I21.9"], ["C34.9"], ["I63.9"], ["J18.9"], ["K35.8"])
KINDS = {
    # workload kind: (med_type, institution kind, items per encounter)
    "outpatient": ("11", "community", 10),
    "inpatient": ("21", "hospital", 40),
    "pharmacy": ("41", "pharmacy", 3),
    # the same purchases, the patient identified by an e-voucher code 医保电子凭证 (one per request)
    "pharmacy_code": ("41", "pharmacy", 3),
}
#: Kinds whose requests carry a fresh e-voucher code (`voucher_code`) instead of a person id,
#: and the kind whose purchases they repeat (template i of both: the same person, pharmacy,
#: items and amounts), so that the two ways in are compared on the same work.
CODE_KINDS = {"pharmacy_code": "pharmacy"}
WORKLOADS = {
    "mix": ("outpatient", "inpatient", "pharmacy"),
    "outpatient": ("outpatient",),
    "inpatient": ("inpatient",),
    "pharmacy": ("pharmacy",),
    "pharmacy_code": ("pharmacy_code",),
}
EID_PLACEHOLDER = "@@ENCOUNTER@@"
CODE_PLACEHOLDER = "@@CODE@@"


def voucher_code(uid: bytes) -> bytes:
    """The e-voucher code of request ``uid``: well formed (``ev_`` + 43 url-safe
    characters), unique per request, known to `bench/run.py`, which stores its digest
    (`app.evouchers.codes.hash_code`) before the phase."""
    return b"ev_" + (b"V" + uid).ljust(43, b"A")


def person_id(i: int) -> str:
    """The synthetic resident number i of app.demo.world.load_demo(persons=N)."""
    return f"S{REGIONS[i % 3]}{i:08d}"


def demo_world() -> tuple[list[tuple[str, str, str]], dict[str, list[dict[str, Any]]], dict[str, str]]:
    """(institutions (code, kind, region), catalog by region, api key by institution code)."""
    from app.demo.world import CATALOG, INSTITUTIONS, demo_key

    insts = [(code, kind, region) for code, _n, kind, _lv, region, active in INSTITUTIONS if active and region in REGIONS]
    by_region: dict[str, list[dict[str, Any]]] = {}
    for item in CATALOG:
        by_region.setdefault(item["region"], []).append(item)
    keys = {code: demo_key(f"institution:{code}") for code, _k, _r in insts}
    return insts, by_region, keys


def catalog_for(region: str, by_region: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Codes visible at an institution of this region: its own, its province's, national."""
    seen: dict[str, dict[str, Any]] = {}
    for r in (region, region[:2] + "0000", "000000"):
        for item in by_region.get(r, []):
            seen.setdefault(item["code"], item)
    return list(seen.values())


@dataclass(slots=True)
class Template:
    kind: str
    institution: str
    head: bytes  # request line + headers up to the Idempotency-Key value
    mid: bytes  # rest of the headers + body up to the encounter id
    tail: bytes  # rest of the body
    body_len_fixed: int
    person: str = ""
    #: code kinds: the body between the e-voucher code and the encounter id (``mid`` then
    #: ends just before the code)
    code_mid: bytes | None = None


def build_templates(
    count: int,
    persons: int,
    *,
    seed: int,
    host: str,
    path: str,
    eid_width: int,
    key_width: int,
) -> dict[str, list[Template]]:
    """`count` templates per kind. Encounter ids and idempotency keys have a fixed
    width, so each template's Content-Length is known in advance."""
    rng = random.Random(seed)
    insts, by_region, keys = demo_world()
    catalogs = {r: catalog_for(r, by_region) for r in REGIONS}
    today = dt.date.today()
    year_start = dt.date(today.year, 1, 1)
    out: dict[str, list[Template]] = {}
    started: dict[str, object] = {}
    for kind, (med_type, inst_kind, n_items) in KINDS.items():
        started[kind] = rng.getstate()
        if kind in CODE_KINDS:
            rng.setstate(started[CODE_KINDS[kind]])  # the same draws as the kind it repeats
        lst = out[kind] = []
        for _ in range(count):
            i = rng.randrange(persons)
            region = REGIONS[i % 3]
            inst = rng.choice([c for c, k, r in insts if k == inst_kind and r == region])
            day = max(year_start, today - dt.timedelta(days=rng.randrange(0, 60)))
            catalog = catalogs[region]
            items = []
            for line in range(1, n_items + 1):
                if rng.random() < 0.05:
                    code, name = rng.choice(UNKNOWN_CODES), None
                else:
                    entry = rng.choice(catalog)
                    code, name = entry["code"], entry["name"] if rng.random() < 0.5 else None
                qty = rng.choice(("1", "2", "3", "10", "30", "0.5", "14"))
                price = f"{rng.uniform(0.5, 400 if kind == 'inpatient' else 80):.4f}"
                item = {"line_no": line, "code": code, "qty": qty, "unit_price": price}
                if name:
                    item["name"] = name
                items.append(item)
            code_kind = kind in CODE_KINDS
            body: dict[str, Any] = {
                "person_id": None if code_kind else person_id(i),
                "e_voucher_code": CODE_PLACEHOLDER if code_kind else None,
                "institution_code": inst,
                "encounter_id": EID_PLACEHOLDER,
                "med_type": med_type,
                "insutype": "390",
                "encounter_date": day.isoformat(),
                "diagnoses": rng.choice(DIAGNOSES_IN if kind == "inpatient" else DIAGNOSES_OUT),
                "special_disease": None,
                "referral_id": None,
                "use_personal_account": True,
                "items": items,
            }
            if kind == "inpatient":
                body["admission_date"] = (day - dt.timedelta(days=rng.randrange(1, 15))).isoformat()
            text = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
            before, after = text.split(EID_PLACEHOLDER.encode())
            length = len(text) - len(EID_PLACEHOLDER) + eid_width
            code_mid = None
            if code_kind:
                before, code_mid = before.split(CODE_PLACEHOLDER.encode())
                length += len(voucher_code(b"x" * (eid_width - 1))) - len(CODE_PLACEHOLDER)
            head = (
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {keys[inst]}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {length}\r\nIdempotency-Key: "
            ).encode()
            lst.append(Template(kind, inst, head, b"\r\n\r\n" + before, after, length, person_id(i), code_mid))
    return out


class Requests:
    """Hands out request bytes: template i of the workload plus a fresh encounter id and key."""

    def __init__(self, templates: dict[str, list[Template]], workload: str, tag: str, start: int, seed: int) -> None:
        rng = random.Random(seed)
        kinds = WORKLOADS[workload]
        pool = [t for k in kinds for t in templates[k]]
        rng.shuffle(pool)  # the mix: each kind equally often, in random order
        self.pool = pool
        self.n = start
        self.tag = tag

    def next(self) -> bytes:
        n = self.n
        self.n = n + 1
        t = self.pool[n % len(self.pool)]
        uid = f"{self.tag}{n:010d}".encode()  # unique per run: both the encounter id and the key
        if t.code_mid is not None:
            return b"".join((t.head, b"K", uid, t.mid, voucher_code(uid), t.code_mid, b"E", uid, t.tail))
        return b"".join((t.head, b"K", uid, t.mid, b"E", uid, t.tail))

    def vouchers(self, count: int) -> list[tuple[str, str]]:
        """(code, person id) of the next ``count`` requests, without handing them out."""
        out = []
        for n in range(self.n, self.n + count):
            t = self.pool[n % len(self.pool)]
            out.append((voucher_code(f"{self.tag}{n:010d}".encode()).decode(), t.person))
        return out


EID_WIDTH = 1 + 6 + 10  # "E" + tag + counter
KEY_WIDTH = EID_WIDTH


# --------------------------------------------------------------------------- raw HTTP/1.1 client


class HttpConnection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buf = bytearray()
        self.waiter: asyncio.Future | None = None
        self.status = 0
        self.need: int | None = None  # total bytes (headers + body) of the response, once known
        self.body_at = 0
        self.chunked = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("connection lost"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if self.need is None:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            header = bytes(buf[:end]).decode("latin-1")
            lines = header.split("\r\n")
            self.status = int(lines[0].split(" ", 2)[1])
            length = None
            for line in lines[1:]:
                name, _, value = line.partition(":")
                lname = name.lower()
                if lname == "content-length":
                    length = int(value)
                elif lname == "transfer-encoding" and "chunked" in value.lower():
                    self.chunked = True
            self.body_at = end + 4
            self.need = -1 if self.chunked else end + 4 + (length or 0)
        if self.need < 0:  # chunked: done when the terminating chunk arrived
            if not buf.endswith(b"0\r\n\r\n"):
                return
            body = b""
        else:
            if len(buf) < self.need:
                return
            body = bytes(buf[self.body_at:self.need])
        status = self.status
        self.buf = bytearray()
        self.need = None
        self.chunked = False
        waiter = self.waiter
        self.waiter = None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, body))

    async def request(self, data: bytes) -> tuple[int, bytes]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


async def open_connection(host: str, port: int) -> HttpConnection:
    loop = asyncio.get_running_loop()
    _t, proto = await loop.create_connection(HttpConnection, host, port)
    return proto


# --------------------------------------------------------------------------- one phase


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, int(round(p / 100 * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


async def run_phase(
    url: str, requests: Requests, concurrency: int, duration: float, client: str = "raw"
) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[int] = []
    statuses: Counter[int] = Counter()
    error_samples: list[str] = []
    conn_errors = 0
    perf = time.perf_counter_ns
    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    started = perf()
    deadline = started + int(duration * 1e9)
    last_done = started

    async def worker_raw() -> None:
        nonlocal conn_errors, last_done
        conn = await open_connection(host, port)
        try:
            while perf() < deadline:
                data = requests.next()
                t0 = perf()
                try:
                    status, body = await conn.request(data)
                except ConnectionError:
                    conn_errors += 1
                    conn = await open_connection(host, port)
                    continue
                t1 = perf()
                latencies.append(t1 - t0)
                last_done = t1
                statuses[status] += 1
                if status >= 300 and len(error_samples) < 5:
                    error_samples.append(f"{status} {body[:300].decode('utf-8', 'replace')}")
                if conn.closed:
                    conn = await open_connection(host, port)
        finally:
            if conn.transport is not None:
                conn.transport.close()

    async def worker_httpx(http: Any) -> None:
        nonlocal conn_errors, last_done
        while perf() < deadline:
            data = requests.next()
            # split the pre-rendered request back into headers and body (outside the timing)
            head, _, body = data.partition(b"\r\n\r\n")
            headers = dict(
                line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if not line.startswith("Host")
            )
            t0 = perf()
            try:
                resp = await http.post(url, content=body, headers=headers)
            except Exception:
                conn_errors += 1
                continue
            t1 = perf()
            latencies.append(t1 - t0)
            last_done = t1
            statuses[resp.status_code] += 1
            if resp.status_code >= 300 and len(error_samples) < 5:
                error_samples.append(f"{resp.status_code} {resp.text[:300]}")

    if client == "httpx":
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=60) as http:
            await asyncio.gather(*(worker_httpx(http) for _ in range(concurrency)))
    else:
        await asyncio.gather(*(worker_raw() for _ in range(concurrency)))
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    elapsed = (last_done - started) / 1e9
    latencies.sort()
    ms = [v / 1e6 for v in latencies]
    count = len(ms)
    ok = sum(c for s, c in statuses.items() if 200 <= s < 300)
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    return {
        "url": url,
        "client": client,
        "concurrency": concurrency,
        "duration": duration,
        "elapsed": elapsed,
        "count": count,
        "ok": ok,
        "errors": count - ok + conn_errors,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "throughput": ok / elapsed if elapsed > 0 else 0.0,
        "p50": percentile(ms, 50),
        "p95": percentile(ms, 95),
        "p99": percentile(ms, 99),
        "max": ms[-1] if ms else float("nan"),
        "mean": sum(ms) / count if count else float("nan"),
        "latencies_ms": ms,
        "loadgen_cpu_s": cpu,
        "loadgen_cpu_us_per_request": cpu / count * 1e6 if count else float("nan"),
        "error_samples": error_samples,
    }


# --------------------------------------------------------------------------- entry points


class Generator:
    """Templates built once; phases handed out with a run-wide unique counter."""

    def __init__(self, persons: int, templates: int, seed: int, tag: str, host: str) -> None:
        self.seed = seed
        self.tag = tag
        self.counter = 0
        self.by_path: dict[str, dict[str, list[Template]]] = {}
        #: phases prepared ahead (their e-voucher codes handed out), by (url, workload), in
        #: the order they will run
        self.reserved: dict[tuple[str, str], list[Requests]] = {}
        self.args = dict(count=templates, persons=persons, seed=seed, host=host)

    def requests(self, url: str, workload: str, expected: int) -> Requests:
        path = urlsplit(url).path
        if path not in self.by_path:
            self.by_path[path] = build_templates(
                path=path, eid_width=EID_WIDTH, key_width=KEY_WIDTH, **self.args  # type: ignore[arg-type]
            )
        req = Requests(self.by_path[path], workload, self.tag, self.counter, self.seed + self.counter)
        self.counter += expected
        return req


def _install_loop() -> None:
    try:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover
        pass


def serve(args: argparse.Namespace) -> int:
    """JSON commands on stdin → one JSON result per line on stdout."""
    _install_loop()
    gen: Generator | None = None
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        cmd = json.loads(line)
        if cmd.get("op") == "init":
            gen = Generator(cmd["persons"], cmd["templates"], cmd["seed"], cmd["tag"], cmd["host"])
            for url in cmd.get("urls", []):  # build the templates now, not inside a phase
                gen.requests(url, "mix", 0)
            reply: dict[str, Any] = {"ok": True}
        elif cmd.get("op") == "quit":
            break
        elif cmd.get("op") == "vouchers":
            assert gen is not None, "init first"
            req = gen.requests(cmd["url"], cmd["workload"], 10_000_000)
            gen.reserved.setdefault((cmd["url"], cmd["workload"]), []).append(req)
            reply = {"codes": req.vouchers(cmd["count"])}
        else:
            assert gen is not None, "init first"
            ahead = gen.reserved.get((cmd["url"], cmd["workload"]))
            req = ahead.pop(0) if ahead else gen.requests(cmd["url"], cmd["workload"], 10_000_000)
            reply = asyncio.run(
                run_phase(cmd["url"], req, cmd["concurrency"], cmd["duration"], cmd.get("client", "raw"))
            )
            if not cmd.get("latencies"):
                reply.pop("latencies_ms", None)
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--serve", action="store_true", help="read JSON commands from stdin (bench/run.py)")
    p.add_argument("--url", default="http://127.0.0.1:8000/v1/settlements")
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--duration", type=float, default=10)
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="mix")
    p.add_argument("--persons", type=int, default=10_000)
    p.add_argument("--templates", type=int, default=2000, help="pre-generated bodies per encounter kind")
    p.add_argument("--client", choices=("raw", "httpx"), default="raw")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--tag", default=None, help="6 characters making encounter ids unique (random by default)")
    args = p.parse_args(argv)
    if args.serve:
        return serve(args)
    _install_loop()
    tag = (args.tag or os.urandom(3).hex())[:6].ljust(6, "0")
    parts = urlsplit(args.url)
    gen = Generator(args.persons, args.templates, args.seed, tag, parts.netloc)
    req = gen.requests(args.url, args.workload, 0)
    result = asyncio.run(run_phase(args.url, req, args.concurrency, args.duration, args.client))
    result.pop("latencies_ms")
    print(json.dumps(result, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
