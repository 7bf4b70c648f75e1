"""infno → handler. An infno not listed is answered ``infcode -1`` ``unsupported_infno``."""

from __future__ import annotations

from app.national.service import Handler
from app.national.transactions import correction, inpatient, outpatient, person, pharmacy, reconciliation, signin

HANDLERS: dict[str, Handler] = {
    "1101": person.person_info,
    "2101": pharmacy.preview,
    "2102": pharmacy.settle,
    "2103": pharmacy.reverse,
    "2201": outpatient.register,
    "2202": outpatient.unregister,
    "2203": outpatient.visit_info,
    "2204": outpatient.upload_fees,
    "2205": outpatient.undo_fees,
    "2206": outpatient.preview,
    "2207": outpatient.settle,
    "2208": outpatient.reverse,
    "2301": inpatient.upload_fees,
    "2302": inpatient.undo_fees,
    "2303": inpatient.preview,
    "2304": inpatient.settle,
    "2305": inpatient.reverse,
    "2401": inpatient.admit,
    "2402": inpatient.discharge,
    "2403": inpatient.change_admission,
    "2404": inpatient.undo_admission,
    "2405": inpatient.undo_discharge,
    "2601": correction.correct,
    "3201": reconciliation.totals,
    "5206": person.cumulative,
    "9001": signin.sign_in,
}

SUPPORTED = tuple(sorted(HANDLERS))
