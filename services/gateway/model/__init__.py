"""The shapes everyone shares: typed records from the stores, the caller, the HTTP bodies."""
