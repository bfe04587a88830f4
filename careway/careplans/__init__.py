"""Care plans (issue 17): problems, goals, interventions and the frequency notation parser.

So far only `frequency.py`, the one parser of home health visit frequencies (plain Python)."""
