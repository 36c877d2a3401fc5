"""Operator command lines: `haven-admin` and the offline receipt check."""
