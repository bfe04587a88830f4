"""Careway's pair-aware large neighbourhood search for the general routing problem: linked
visits (simultaneous and ordered), soft windows, maximum lateness, continuity, breaks, pins.

- evaluate.py: the compiled problem, the plan's times (least fixed point across linked
  routes) and fast evaluation of insertions;
- construct.py: the first plan, a linked pair inserted as one unit;
- destroy.py and repair.py: the moves (remove units, put them back at their best places);
- lns.py: the search loop, `solve(problem, seconds, seed, on_progress, initial)`.
"""
