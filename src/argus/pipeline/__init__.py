"""Event bus and pipeline stages."""
