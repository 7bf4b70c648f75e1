"""app.kit.ids.uuid7: version 7 layout, unique across a buffer refill, and a forked child
never repeats its parent's random bits."""

from __future__ import annotations

import os
import time

from app.kit import ids


def test_layout_order_and_uniqueness_across_refills() -> None:
    before_ms = time.time_ns() // 1_000_000
    made = [ids.uuid7() for _ in range(3 * ids._POOL_IDS + 7)]  # crosses three refills
    after_ms = time.time_ns() // 1_000_000
    assert len(set(made)) == len(made)
    for u in made:
        assert u.version == 7 and u.variant == "specified in RFC 4122"
        assert before_ms <= u.int >> 80 <= after_ms
    assert [u.int >> 80 for u in made] == sorted(u.int >> 80 for u in made)


def test_a_forked_child_draws_its_own_random_bits() -> None:
    ids.uuid7()  # the parent has a buffer with unused bytes
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        os.write(write, ids.uuid7().bytes)
        os._exit(0)
    os.close(write)
    child = os.read(read, 16)
    os.close(read)
    os.waitpid(pid, 0)
    parent = ids.uuid7().bytes
    assert child[6:] != parent[6:]  # the 80 random bits (and version/variant) differ
