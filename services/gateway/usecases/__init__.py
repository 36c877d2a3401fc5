"""The use cases: every check and decision of the API; no HTTP, no queries."""
