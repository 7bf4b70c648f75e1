"""Errors of reports (problem+json codes)."""

from __future__ import annotations

from app.kit.errors import Unprocessable


class BadGroupBy(Unprocessable):
    code, title = "invalid_group_by", "Invalid group_by"

