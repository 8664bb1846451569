"""Accounts, roles, login and bearer tokens; authorisation (permissions × jurisdiction)."""
