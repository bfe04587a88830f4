"""Home visits (issue 21): orders from the care plan, the week scheduled, each day routed by
careway/routing.

So far the plain-Python rules the schedule is built by: `medicare.py`, Medicare's visit timing
rules as data and what a patient's schedule owes them, and `spread.py`, the days of an order
period's visits spread across the days a patient can be seen."""
