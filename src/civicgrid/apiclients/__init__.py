"""Platform API clients: external systems that send records with a key (docs/api/clients.md)."""
