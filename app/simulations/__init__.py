"""Policy impact simulation 数据测算: replay settlements under a draft policy (api.md "Policy simulations")."""
