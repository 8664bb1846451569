"""The workflow kit every life cycle uses (DESIGN.md rule 4): a status enum, a transition table,
and one ``transition()`` that checks, stamps, times, audits and announces each step."""
