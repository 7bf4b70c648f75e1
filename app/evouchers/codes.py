"""The code itself: random, carries nothing personal, stored only as a hash."""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "ev_"
#: 32 random bytes → 43 url-safe base64 characters (256 bits).
CODE_PATTERN = re.compile(r"^ev_[A-Za-z0-9_-]{43}$")


def new_code() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def well_formed(code: str) -> bool:
    return CODE_PATTERN.fullmatch(code) is not None


def hash_code(code: str) -> bytes:
    return hashlib.sha256(code.encode()).digest()
