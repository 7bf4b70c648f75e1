"""3201 医药机构费用结算对总账: the institution's totals against the centre's records
(api.md, Reconciliation; computed by `app.national.ports.reconcile_totals`)."""

from __future__ import annotations

from app.national import ports
from app.national.exceptions import refusal
from app.national.schemas import TotalsQuery
from app.national.service import Message, Output, node


async def totals(msg: Message) -> Output:
    data = node(msg, TotalsQuery, "data")
    if data.stmt_enddate < data.stmt_begndate:
        raise refusal("validation_error", "stmt_enddate: before stmt_begndate")
    if data.fixmedins_setl_cnt != data.fixmedins_setl_cnt.to_integral_value():
        raise refusal("validation_error", "fixmedins_setl_cnt: must be a whole number")
    row = ports.TotalsRow(
        insutype=data.insutype,
        clr_type=data.clr_type,
        medfee_sumamt=data.medfee_sumamt,
        fund_pay_sumamt=data.fund_pay_sumamt,
        acct_pay=data.acct_pay,
        count=int(data.fixmedins_setl_cnt),
        # "为1、空值、null、缺省时…包含退费数据，为0时不包含" (national-interface.md §2.4)
        include_reversals=data.refd_setl_flag != "0",
        setl_optins=data.setl_optins,
    )
    [answer] = await ports.reconcile_totals(msg.conn, msg.institution_code, data.stmt_begndate, data.stmt_enddate, [row])
    return {"stmtinfo": {"setl_optins": data.setl_optins or "", "stmt_rslt": answer["stmt_rslt"],
                         "stmt_rslt_dscr": answer["stmt_rslt_dscr"]}}  # fmt: skip
