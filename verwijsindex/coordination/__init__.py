"""Coordination (regie) after a match: who coordinates, deadlines, escalation, feedback."""
