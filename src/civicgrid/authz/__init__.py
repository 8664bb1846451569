"""Authorisation, in one place (DESIGN.md rule 5): who is calling (:class:`Principal`), the
permission dependency every endpoint declares (:func:`require`), and the one scoping helper every
repository applies (:mod:`civicgrid.authz.scoping`).
Import from the modules (``authz.principal``, ``authz.dependencies``, ``authz.scoping``): this
file imports nothing, so ``audit`` can use the principal while the dependency uses ``audit``.

It imports no domain. Accounts and tokens live in ``people/``, which plugs its token check in
through :func:`civicgrid.authz.dependencies.install_authenticator` when the app is built, so
geo, audit and the other domains depend on this package, not on ``people``.
"""
