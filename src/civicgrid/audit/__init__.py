"""Hash-chained, append-only log of every write (DESIGN.md: audit chain)."""
