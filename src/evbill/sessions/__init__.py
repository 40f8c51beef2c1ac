"""Charging sessions: the state machine, the domain commands and the session service."""
