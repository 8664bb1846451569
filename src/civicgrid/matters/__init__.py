"""Reported matters and their catalogue (the "three lists"): intake, routing, the closed loop,
deadlines and escalation, supervision, and the settlement-level figures."""
