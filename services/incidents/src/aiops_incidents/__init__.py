"""Incidents: correlation, root cause and lifecycle. Built by a later change; nothing runs here yet."""
