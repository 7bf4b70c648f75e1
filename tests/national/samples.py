"""Sample answers of the national platform (national-interface.md §4, §9; PII redacted there).
Used for their *shape*: which fields an answer has and of which JSON type."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

V1_2207 = r'''{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"setl_time":"2021-11-29 18:09:52","cvlserv_pay":0,"cvlserv_flag":"0","med_type":"11","brdy":"1980-01-01","naty":"01","psn_cash_pay":0,"certno":"000000000000000000","hifmi_pay":0,"psn_no":"PSN-REDACTED","act_pay_dedc":4.29,"mdtrt_cert_type":"02","balc":1373.63,"medins_setl_id":"H13110200026202111291809520478","psn_cert_type":"01","acct_mulaid_pay":0,"clr_way":"1","hifob_pay":0,"oth_pay":0,"medfee_sumamt":4.52,"hifes_pay":0,"gend":"1","mdtrt_id":"300179916","acct_pay":4.52,"fund_pay_sumamt":0,"fulamt_ownpay_amt":0,"hosp_part_amt":0,"setl_id":"400125241","inscp_scp_amt":4.29,"insutype":"310","maf_pay":0,"psn_name":"测试患者","psn_part_amt":4.52,"clr_optins":"131199","pool_prop_selfpay":0.0,"psn_type":"1101","hifp_pay":0,"overlmt_selfpay":0,"preselfpay_amt":0.23,"age":35.0,"clr_type":"11"},"setldetail":[{"fund_pay_type":"310200","fund_payamt":4.52,"setl_proc_info":null,"crt_payb_lmt_amt":null,"inscp_scp_amt":4.29,"fund_pay_type_name":"城镇职工基本医疗保险个人账户基金"}],"expContent":null}}'''

V2_2208 = r'''{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"setl_time":"2021-11-26 11:41:26","cvlserv_pay":0.0,"cvlserv_flag":"0","med_type":"11","brdy":"1980-01-01","naty":"01","psn_cash_pay":0.0,"certno":"000000000000000000","hifmi_pay":0.0,"psn_no":"PSN-REDACTED","act_pay_dedc":-24.87,"mdtrt_cert_type":"02","balc":1378.15,"medins_setl_id":"H13110200026202111261147436094","psn_cert_type":"01","acct_mulaid_pay":null,"clr_way":"1","hifob_pay":0.0,"oth_pay":0.0,"medfee_sumamt":-25.1,"hifes_pay":0.0,"gend":"1","mdtrt_id":"300179916","acct_pay":-25.1,"fund_pay_sumamt":0.0,"fulamt_ownpay_amt":0.0,"hosp_part_amt":null,"setl_id":"400120618","inscp_scp_amt":-24.87,"insutype":"310","maf_pay":0.0,"psn_name":"测试患者","psn_part_amt":null,"clr_optins":"131199","pool_prop_selfpay":0.0,"psn_type":"1101","hifp_pay":0.0,"overlmt_selfpay":0.0,"preselfpay_amt":-0.23,"age":35.0,"clr_type":"11"},"setldetail":[{"fund_pay_type":"310200","fund_payamt":-25.1,"setl_proc_info":null,"crt_payb_lmt_amt":null,"inscp_scp_amt":-24.87,"fund_pay_type_name":"城镇职工基本医疗保险个人账户基金"}],"expContent":null}}'''

V3_2304 = r'''{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"setlinfo":{"setl_time":"2021-08-27 09:58:41","cvlserv_pay":0,"cvlserv_flag":"0","med_type":"21","brdy":"1980-01-01","naty":"01","psn_cash_pay":3982.02,"certno":"000000000000000000","hifmi_pay":0,"psn_no":"PSN-REDACTED","act_pay_dedc":0,"mdtrt_cert_type":"03","balc":0.0,"medins_setl_id":"H50010302473202108270958341146","psn_cert_type":"01","acct_mulaid_pay":0,"clr_way":"3","hifob_pay":18785.39,"oth_pay":0.0,"medfee_sumamt":23442.46,"hifes_pay":0,"gend":"1","mdtrt_id":"310003327436","acct_pay":170.04,"fund_pay_sumamt":18785.39,"fulamt_ownpay_amt":2533.97,"hosp_part_amt":505.01,"setl_id":"300014497225","inscp_scp_amt":18808.16,"insutype":"310","maf_pay":0,"psn_name":"测试患者","psn_part_amt":4152.06,"clr_optins":"500103","pool_prop_selfpay":0.0,"psn_type":"12","hifp_pay":0,"overlmt_selfpay":1396.89,"preselfpay_amt":703.44,"age":73.0,"clr_type":"21"},"setldetail":[{"fund_pay_type":"330101","fund_payamt":18785.39,"inscp_scp_amt":18808.16},{"fund_pay_type":"999996","fund_payamt":505.01,"inscp_scp_amt":18808.16},{"fund_pay_type":"310201","fund_payamt":170.04,"inscp_scp_amt":18808.16}]}}'''

V4_2304_SETLINFO_KEYS = (
    "setl_time cvlserv_pay cvlserv_flag med_type naty brdy psn_cash_pay certno hifmi_pay psn_no act_pay_dedc "
    "mdtrt_cert_type balc medins_setl_id psn_cert_type hifob_pay acct_mulaid_pay clr_way oth_pay medfee_sumamt "
    "hifes_pay gend mdtrt_id fund_pay_sumamt acct_pay fulamt_ownpay_amt setl_id hosp_part_amt psn_name insutype "
    "inscp_scp_amt maf_pay psn_part_amt pool_prop_selfpay clr_optins psn_type overlmt_selfpay hifp_pay "
    "preselfpay_amt age clr_type"
).split()

#: V5 (2305, Chongqing): the amounts of the reversal it shows (its own extras left out).
V5_2305_AMOUNTS = ("fund_pay_sumamt", "psn_cash_pay", "medfee_sumamt", "fulamt_ownpay_amt", "overlmt_selfpay",
                   "preselfpay_amt", "inscp_scp_amt", "hifob_pay", "psn_part_amt", "hosp_part_amt")  # fmt: skip

#: §9.6 2204 answer (S3)
R_2204 = r'''{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"result":[{"bas_medn_flag":"0","med_chrgitm_type":"09","det_item_fee_sumamt":4.52,"hi_nego_drug_flag":"0","fulamt_ownpay_amt":0,"cnt":1.0,"pric":4.52,"exp_content":null,"memo":null,"feedetl_sn":"yp570","inscp_scp_amt":4.29,"drt_reim_flag":"0","overlmt_amt":0.0,"list_sp_item_flag":null,"pric_uplmt_amt":999999,"selfpay_prop":0.05,"chld_medc_flag":null,"preselfpay_amt":0.23,"lmt_used_flag":"0","chrgitm_lv":"02"}]}}'''

#: §9.3 2201 answer and §9.2 9001 answer (S3)
R_2201 = r'''{"infcode":0,"err_msg":null,"output":{"data":{"psn_no":"PSN-REDACTED","mdtrt_id":"300178725","exp_content":null,"ipt_otp_no":"2111241810003"}}}'''
R_9001 = r'''{"infcode":0,"inf_refmsgid":"500000202107141108170000514555","refmsg_time":"20210713230809297","respond_time":"20210713230810282","enctype":"","signtype":"","err_msg":null,"output":{"signinoutb":{"sign_no":"359754","sign_time":"2021-08-29 19:35:27"}}}'''


def parse(text: str) -> dict[str, Any]:
    return json.loads(text, parse_float=Decimal)


def kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, Decimal)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def same_shape(sample: Any, ours: Any, where: str = "") -> list[str]:
    """Every field of ``sample`` is in ``ours`` with the same JSON type (a sample's null
    says nothing about the type); lists are compared element to first element."""
    problems: list[str] = []
    if isinstance(sample, dict):
        if not isinstance(ours, dict):
            return [f"{where}: object expected, got {kind(ours)}"]
        for key, value in sample.items():
            if key == "expContent":  # a Hebei extra in the output node, not a field of the node
                continue
            if key not in ours:
                problems.append(f"{where}.{key}: missing")
            else:
                problems += same_shape(value, ours[key], f"{where}.{key}")
    elif isinstance(sample, list):
        if not isinstance(ours, list):
            return [f"{where}: list expected, got {kind(ours)}"]
        if sample and ours:
            problems += same_shape(sample[0], ours[0], f"{where}[0]")
    elif sample is not None and kind(sample) != kind(ours):
        problems.append(f"{where}: {kind(sample)} expected, got {kind(ours)}")
    return problems
