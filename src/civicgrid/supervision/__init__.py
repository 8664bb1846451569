"""Enforcement supervision (执法监管中心): person, case, property and place from the police case
systems, every statutory clock watched and warned (issue 15)."""
