"""greenline's MCP server: the api's read and decision methods as tools for coding agents."""
