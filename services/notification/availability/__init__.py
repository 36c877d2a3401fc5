"""Coach availability: weekly hours, away periods, `coach_away` notices and push deferral."""
