"""Reconciliation 对账 with institutions: totals (national 3201) and details (3202)."""
