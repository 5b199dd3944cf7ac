"""The ``greenline`` command line (Typer): one module per command group."""
