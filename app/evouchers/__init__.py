"""医保电子凭证: short-lived codes issued to the insured's app, settled once."""
