"""The service's notion of "today": dates are China Standard Time (UTC+8) calendar dates."""

from __future__ import annotations

import datetime as dt

CST = dt.timezone(dt.timedelta(hours=8), "CST")


def now() -> dt.datetime:
    return dt.datetime.now(CST)


def today() -> dt.date:
    return now().date()
