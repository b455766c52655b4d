"""Vigie: a real-time dispatch hub for citizen safety alerts."""

__version__ = "0.1.0"
