"""One module per family of national transactions; `app.national.dispatch` maps infnos."""
