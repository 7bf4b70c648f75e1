"""E-voucher request and response bodies (api.md, `POST /v1/e-vouchers`)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field


class EVoucherRequest(BaseModel):
    """Ask for a code for one insured person."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"example": {"person_id": "P441900000001"}})

    person_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_\-]{1,64}$", description="psn_no")


class EVoucherOut(BaseModel):
    """The code to show as a QR code; it settles once, until `expires_at`."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "code": "ev_3q2-7wEXAMPLEk0d9Vx1yZbP4sT6uR8mN0aC2eG5hJ7",
                "expires_at": "2026-03-10T09:35:00+08:00",
            }
        }
    )

    code: str = Field(description="`ev_` + 43 url-safe characters (256 random bits); nothing personal in it")
    expires_at: dt.datetime = Field(description="RFC 3339; the code is refused from this instant on")
