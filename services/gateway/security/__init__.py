"""Who is calling and how hard: bearer tokens, passwords, rate limits, the password-check guard."""
