"""organisations."""
