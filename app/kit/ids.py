"""Time-ordered identifiers (UUID version 7, RFC 9562).

Settlement ids lead the primary keys of settlements and of their item, fund and delta
lines. Random (version 4) ids put every insert on a random leaf page of each of those
indexes: after a checkpoint each such page is written to the WAL whole, and once the
indexes outgrow shared buffers each insert reads a page back. Version-7 ids grow with
time, so inserts land on the right-most pages, which stay hot (docs/performance.md).
"""

from __future__ import annotations

import os
import time
import uuid

_RAND_A = (1 << 12) - 1
_RAND_B = (1 << 62) - 1


#: Random bytes from the OS, drawn 256 ids at a time: one ``getrandom`` system call per
#: id cost more than building the id.
_POOL_IDS = 256
_random = b""
_offset = 0


def _random_bits() -> int:
    """80 fresh bits from the operating system's CSPRNG (never reused)."""
    global _random, _offset
    if _offset >= len(_random):
        _random, _offset = os.urandom(10 * _POOL_IDS), 0
    chunk = _random[_offset : _offset + 10]
    _offset += 10
    return int.from_bytes(chunk, "big")


def _forget_random() -> None:
    """A forked child must not hand out the bytes its parent will use too."""
    global _random, _offset
    _random, _offset = b"", 0


os.register_at_fork(after_in_child=_forget_random)


def uuid7() -> uuid.UUID:
    """48 bits of Unix milliseconds, version 7, 12 + 62 random bits (variant 10)."""
    ms = time.time_ns() // 1_000_000
    rand = _random_bits()
    value = (ms << 80) | (0x7 << 76) | (((rand >> 62) & _RAND_A) << 64) | (0b10 << 62) | (rand & _RAND_B)
    return uuid.UUID(int=value)
