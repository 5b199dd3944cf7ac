"""The REST routes, one module per capability."""
