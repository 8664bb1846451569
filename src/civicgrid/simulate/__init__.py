"""The demo generator (and, later, the city simulator)."""
