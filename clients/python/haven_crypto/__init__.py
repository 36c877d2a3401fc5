"""Haven's device crypto (keys, signatures, the haven-v1 envelope), shared by SDK and server."""
