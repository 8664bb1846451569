"""Domain events and hand-offs between modules (an outbox made of durable timers)."""
