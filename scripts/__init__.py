"""Runnable tools for operators and integrators."""
