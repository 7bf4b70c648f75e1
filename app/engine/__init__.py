"""The pure settlement calculation (一站式结算计算).

No I/O lives here: no web framework, database driver, clock or environment.
`settle(encounter, context)` returns a `Settlement` or a `Refusal`.
"""
