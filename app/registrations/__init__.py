"""Registrations that decide where and how a person may settle (settlement.md §7–§8).

Special-disease registrations 门诊特定病种认定 with chosen sites 选点, cross-region
filings 异地就医备案 and referrals 转诊转院. The settlement path reads these rows
(app.settlement.repository.load_person_state) by date range only.
"""
