"""Domain-free helpers: errors, language, clock, ids, jurisdiction scoping. Imports no domain."""
