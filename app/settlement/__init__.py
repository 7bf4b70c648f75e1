"""Settlement 结算: preview, settle, reverse, read, and the patient's slip 结算单."""
