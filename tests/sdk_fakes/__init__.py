"""A faithful-enough fake of the Haven gateway's HTTP/WebSocket API for SDK unit tests."""
