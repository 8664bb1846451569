"""Rapid response (永州快警): units with live positions, incidents, assignments, recommendation by
travel time, and the 1-3-5 minute rings."""
