"""The national envelope and the input nodes of each transaction, as HIS systems send them.

Lenient on purpose (national-interface.md §1, §9.17): unknown fields are ignored,
amounts may be JSON numbers or strings (``""`` and ``null`` mean absent), code fields
may arrive as numbers, and date-times as ``yyyy-MM-dd HH:mm:ss``, ISO or a bare date.
Field names are exactly the reference's (``mdtrtarea_admvs``, ``insuplc_admdvs``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from app.kit.clock import CST
from app.kit.types import parse_decimal


def _text(value: Any) -> Any:
    """A code or id: numbers become their text; blank means absent."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, Decimal)):
        return format(value, "f") if isinstance(value, Decimal) else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _cert_type(value: Any) -> Any:
    """01 / 02 / 03, also when sent as the number 1 / 2 / 3."""
    text = _text(value)
    return text.zfill(2) if isinstance(text, str) and text.isdigit() and len(text) < 2 else text


def _amount(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return parse_decimal(value)


_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")


def _datetime(value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=CST)
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = dt.datetime.fromisoformat(text)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=CST)
        except ValueError:
            pass
        for fmt in _FORMATS:
            try:
                return dt.datetime.strptime(text[:19] if "%S" in fmt else text, fmt).replace(tzinfo=CST)
            except ValueError:
                continue
        raise ValueError("must be a date-time yyyy-MM-dd HH:mm:ss")
    raise ValueError("must be a date-time yyyy-MM-dd HH:mm:ss")


def _date(value: Any) -> Any:
    moment = _datetime(value)
    return moment.date() if isinstance(moment, dt.datetime) else moment


#: An optional code or text: blank and null mean absent.
Text = Annotated[Annotated[str, Field(max_length=4000)] | None, BeforeValidator(_text)]
Id = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64)]
OptId = Annotated[Annotated[str, Field(min_length=1, max_length=64)] | None, BeforeValidator(_text)]
Amount = Annotated[Decimal, BeforeValidator(_amount), Field(allow_inf_nan=False)]
OptAmount = Annotated[Annotated[Decimal, Field(allow_inf_nan=False)] | None, BeforeValidator(_amount)]
Moment = Annotated[dt.datetime, BeforeValidator(_datetime)]
OptMoment = Annotated[dt.datetime | None, BeforeValidator(_datetime)]
Day = Annotated[dt.date, BeforeValidator(_date)]
CertType = Annotated[str, BeforeValidator(_cert_type), Field(max_length=3, description="01 电子凭证 / 02 身份证 / 03 社保卡")]
#: msgid doubles as an idempotency key: 1–128 printable ASCII characters.
MsgId = Annotated[str, BeforeValidator(_text), Field(pattern=r"^[\x20-\x7e]{1,128}$")]


class Node(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Envelope(Node):
    """The request envelope (national-interface.md §1.1)."""

    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "example": {
                "infno": "1101", "msgid": "H44190000001202612020930000001", "mdtrtarea_admvs": "441900",
                "insuplc_admdvs": "441900", "recer_sys_code": "HIS", "infver": "V1.0", "opter_type": "1",
                "opter": "001", "opter_name": "收费员", "inf_time": "2026-12-02 09:30:00",
                "fixmedins_code": "H44190000001", "fixmedins_name": "东莞市人民医院", "sign_no": "",
                "input": {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": "44190019600202003X"}},  # demo P441900000001
            }
        },
    )

    infno: Annotated[str, BeforeValidator(_text), Field(pattern=r"^\d{4}$", description="交易编号")]
    msgid: MsgId = Field(description="发送方报文ID; the idempotency key of 2207/2304/2102 and what 2601 names")
    fixmedins_code: Id = Field(description="定点医药机构编号: must be the key's institution")
    mdtrtarea_admvs: Text = None
    insuplc_admdvs: Text = None
    recer_sys_code: Text = None
    dev_no: Text = None
    dev_safe_info: Text = None
    cainfo: Text = None
    signtype: Text = None
    infver: Text = None
    opter_type: Text = None
    opter: Text = None
    opter_name: Text = None
    inf_time: OptMoment = None
    fixmedins_name: Text = None
    sign_no: Text = None
    input: dict[str, Any] = Field(default_factory=dict, description="nodes by name, e.g. {\"data\": {…}}")


# --------------------------------------------------------------------------- 1101, 5206, 9001


class PersonQuery(Node):
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text = None
    card_sn: Text = None
    psn_cert_type: Text = None
    certno: Text = None
    psn_name: Text = None


class CumQuery(Node):
    psn_no: Id
    cum_ym: Annotated[Annotated[str, Field(pattern=r"^\d{6}$")] | None, BeforeValidator(_text)] = None


class SignIn(Node):
    opter_no: Text = None
    mac: Text = None
    ip: Text = None


# --------------------------------------------------------------------------- encounters


class Registration(Node):
    """2201 data (``psn_no`` may be left out: the credential decides)."""

    psn_no: OptId = None
    insutype: Text = None
    begntime: Moment
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text = None
    ipt_otp_no: Text = None
    atddr_no: Text = None
    dr_name: Text = None
    dept_code: Text = None
    dept_name: Text = None
    caty: Text = None


class EncounterRef(Node):
    """2202 / 2404 / 2405 data."""

    mdtrt_id: Id
    psn_no: OptId = None
    ipt_otp_no: Text = None


class Diagnosis(Node):
    diag_type: Text = None
    diag_srt_no: Text = None
    diag_code: Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=16)]
    diag_name: Text = None
    maindiag_flag: Text = None
    vali_flag: Text = None


class VisitInfo(Node):
    """2203 mdtrtinfo."""

    mdtrt_id: Id
    psn_no: OptId = None
    med_type: Text = None
    begntime: OptMoment = None
    main_cond_dscr: Text = None
    dise_codg: Text = None
    dise_name: Text = None


class Admission(Node):
    """2401 mdtrtinfo (``psn_no`` may be left out: the credential decides)."""

    psn_no: OptId = None
    insutype: Text = None
    begntime: Moment
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text = None
    med_type: Text = None
    ipt_no: Text = None
    dscg_maindiag_code: Text = None
    dise_codg: Text = None
    dise_name: Text = None


class AdmissionChange(Node):
    """2403 adminfo: 2401's fields, by ``mdtrt_id`` (the hospital number is ``ipt_otp_no``)."""

    mdtrt_id: Id
    psn_no: OptId = None
    begntime: OptMoment = None
    med_type: Text = None
    dise_codg: Text = None


class Discharge(Node):
    """2402 dscginfo (S12 sends it as ``mdtrtinfo``)."""

    mdtrt_id: Id
    psn_no: OptId = None
    insutype: Text = None
    endtime: Moment
    dise_codg: Text = None


class FeeLine(Node):
    """One 2204 / 2301 feedetail row, or one 2101 / 2102 drugdetail row."""

    feedetl_sn: Id
    mdtrt_id: Text = None
    psn_no: Text = None
    chrg_bchno: Text = None
    dise_codg: Text = None
    init_feedetl_sn: Text = None
    fee_ocur_time: OptMoment = None
    med_list_codg: Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=64)]
    medins_list_codg: Text = None
    det_item_fee_sumamt: OptAmount = None
    cnt: Amount
    pric: Amount
    med_type: Text = None
    hosp_appr_flag: Text = None


class FeeUndo(Node):
    """2205 data (by batch) and 2302 data (by line); ``"0000"`` means all."""

    mdtrt_id: Id
    chrg_bchno: Text = None
    feedetl_sn: Text = None
    psn_no: Text = None


class SettleData(Node):
    """2206 / 2207 / 2303 / 2304 data."""

    psn_no: OptId = None
    mdtrt_cert_type: Text = None
    mdtrt_cert_no: Text = None
    med_type: Text = None
    medfee_sumamt: OptAmount = None
    psn_setlway: Text = None
    mdtrt_id: Id
    chrg_bchno: Text = None
    acct_used_flag: Text = None
    insutype: Text = None
    mid_setl_flag: Text = None
    invono: Text = None


class DrugInfo(Node):
    """2101 / 2102 druginfo."""

    psn_no: Text = None
    mdtrt_cert_type: CertType
    mdtrt_cert_no: Text = None
    begntime: OptMoment = None
    medfee_sumamt: OptAmount = None
    insutype: Text = None
    dise_codg: Text = None
    acct_used_flag: Text = None
    med_type: Text = None


class ReversalData(Node):
    """2208 / 2305 / 2103 data."""

    setl_id: Id
    mdtrt_id: OptId = None
    psn_no: Text = None


class Correction(Node):
    """2601 data."""

    psn_no: Text = None
    omsgid: MsgId
    oinfno: Annotated[str, BeforeValidator(_text), Field(pattern=r"^\d{4}$")]


class TotalsQuery(Node):
    """3201 data."""

    insutype: Annotated[str, BeforeValidator(_text), Field(max_length=6)]
    clr_type: Annotated[str, BeforeValidator(_text), Field(max_length=6)]
    setl_optins: Text = None
    stmt_begndate: Day
    stmt_enddate: Day
    medfee_sumamt: Amount
    fund_pay_sumamt: Amount
    acct_pay: Amount
    fixmedins_setl_cnt: Amount
    refd_setl_flag: Text = None


# --------------------------------------------------------------------------- answer (documentation)


class Answer(BaseModel):
    """The answer envelope (national-interface.md §1.2). ``output``'s nodes depend on ``infno``;
    amounts in it are JSON numbers with two decimals."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "infcode": 0, "inf_refmsgid": "441900202612020930000000000001", "refmsg_time": "20261202093000000",
                "respond_time": "20261202093000012", "err_msg": None, "warn_msg": None, "enctype": "", "signtype": "",
                "cainfo": "", "output": {"data": {"mdtrt_id": "202612020930001234567890", "psn_no": "P441900000001",
                                                  "ipt_otp_no": "MZ0001", "exp_content": None}},
            }
        }
    )

    infcode: int = Field(description="Result code 交易状态码: 0 success, -1 refused or malformed")
    inf_refmsgid: str = Field(description="Answer message id 接收方报文ID (the region, the time, a sequence)")
    refmsg_time: str = Field(description="When the message was received 接收报文时间 (yyyyMMddHHmmssSSS)")
    respond_time: str = Field(description="When it was answered 响应报文时间 (yyyyMMddHHmmssSSS)")
    err_msg: str | None = Field(description='Error message 错误信息: "<problem code>: <detail>" when infcode is -1')
    warn_msg: str | None = Field(default=None, description="Warning message 警告信息 (never set by this service)")
    enctype: str = Field(default="", description="Encryption type 加密方式 (none: empty)")
    signtype: str = Field(default="", description="Signature type 签名类型 (none: empty)")
    cainfo: str = Field(default="", description="Digital signature 数字签名信息 (none: empty)")
    output: dict[str, Any] = Field(description="The transaction's output nodes 交易输出, by infno (docs/national-interface.md)")
