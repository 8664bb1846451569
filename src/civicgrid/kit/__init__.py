"""Domain-free helpers: errors, language, clock, ids, personal data, statements. Imports no domain."""
