"""Threat evaluation and weapon assignment: pure numpy engines plus ``service.py``, their one door to storage."""
