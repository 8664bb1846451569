"""Warnings (预警): one closed loop for every module's warnings — a matter's yellow and red
deadlines today; missed response rings, dispute risks and enforcement breaches as they land."""
