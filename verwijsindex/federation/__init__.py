"""Matching across regional indexes: the region\x27s side and the hub\x27s (docs/federation.md)."""
