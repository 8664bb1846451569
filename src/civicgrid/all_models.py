"""Import every model module so that Base.metadata knows every table (Alembic, tests)."""

from civicgrid.audit import models as audit_models

__all__ = ["audit_models"]
