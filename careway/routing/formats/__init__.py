"""Readers and writers for the published benchmark formats (Mankowska's home health instances in
the JSON of Ceschia et al.: hhcrsp; Solomon's VRPTW text format: solomon)."""
