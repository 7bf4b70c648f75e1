"""Resident ID numbers 居民身份证号码 (GB 11643): 18 characters, ISO 7064 MOD 11-2 check digit."""

from __future__ import annotations

import re

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)  # 2^(17-i) mod 11
_CHECK = "10X98765432"
_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_digit(first17: str) -> str:
    """The 18th character for these 17 digits."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("17 digits expected")
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS)) % 11]


def is_valid(certno: str) -> bool:
    """18 characters, 17 digits then a digit or X, with a correct check digit (lower-case x refused)."""
    return bool(_SHAPE.match(certno)) and check_digit(certno[:17]) == certno[17]


def mask(certno: str) -> str:
    """First 6 and last 4 kept: ``441900********123X``."""
    return certno[:6] + "*" * (len(certno) - 10) + certno[-4:]
