"""The 12345 hotline as an API client of the platform: tickets in, returns and return visits."""
