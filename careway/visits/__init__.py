"""Home visits (issue 21): orders from the care plan, the week scheduled, each day routed by
careway/routing.

So far the plain-Python rules the schedule is built by: `medicare.py`, Medicare's visit timing
rules as data and what a patient's schedule owes them; `orders.py`, which of an order's visits
fall due in a calendar week; `spread.py`, the days of an order period's visits spread across the
days a patient can be seen; `places.py`, where a patient is seen; `week.py`, the week's visits
given days and clinicians; `day.py`, a branch's day as a problem for the routing engine, and its
plan."""
