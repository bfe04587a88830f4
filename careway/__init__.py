"""Careway: the home health case manager's workbench."""
