"""Org units (机构) and their responsibility areas (责任区): part of the people domain."""
