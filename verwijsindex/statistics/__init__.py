"""Figures for municipalities: counts per municipality, month and sector, rolled up off the
hot path and published under disclosure control (docs/statistics.md, ADR 0017)."""
