"""Care plans (issue 17): problems, goals, interventions and the frequency notation parser.

So far `frequency.py`, the one parser of home health visit frequencies, and `achievement.py`,
how a measurable goal is going from its readings (plain Python, both)."""
