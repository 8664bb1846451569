"""Accounts, roles, login and bearer tokens. The permission check and scoping live in authz/."""
