"""The service's clock and its notion of "today".

Dates are China Standard Time (UTC+8) calendar dates. Code that compares times
asks here, so tests can move time (`app.state.clock = lambda: <aware datetime>`)
instead of sleeping.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

CST = dt.timezone(dt.timedelta(hours=8), "CST")


def now(state: Any = None) -> dt.datetime:
    """`state.clock()` when the app has one set, else the current time (CST)."""
    clock = None
    if state is not None:
        # Starlette's State raises (and formats) an AttributeError for a name never set,
        # which cost more than the rest of this function: look in its dict instead.
        values = getattr(state, "_state", None)
        clock = values.get("clock") if isinstance(values, dict) else getattr(state, "clock", None)
    return clock() if clock is not None else dt.datetime.now(CST)


def today(state: Any = None) -> dt.date:
    return now(state).astimezone(CST).date()
