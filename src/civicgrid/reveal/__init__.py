"""The audited reveal of personal data: one field of one record, for a stated purpose."""
