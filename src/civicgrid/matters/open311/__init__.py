"""Open311 GeoReport v2 at ``/open311/v2/``: matter types as services, matters as service requests,
posted by registered clients with an API key. See ``docs/api/open311.md``."""
