"""Job scheduling: rate limits, deadlines, reminders, ids and worker pools."""
