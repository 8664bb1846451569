"""Matter figures (办结率、按期办结率、化解层级…): daily rollups kept exact in every transaction.

Importing this package installs the flush listener that maintains the rollups (see
:mod:`civicgrid.matters.figures.service`); ``civicgrid.all_models`` imports it, so does the app.
"""

from civicgrid.matters.figures import service as _service  # noqa: F401  (installs the listener)
