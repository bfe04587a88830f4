"""Solvers behind careway.routing.solve: PyVRP for days it expresses exactly
(pyvrp_solver), OR-Tools routing with the exact model for comparison (ortools_solver)."""
