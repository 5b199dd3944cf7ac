"""greenline's pytest plugin (entry point ``greenline``); see ``plugin`` for the options."""
