"""Argus: from sensors to decisions.

Layers (see docs/architecture.md): foundation (config, geo, units) → storage (db) →
engines (tewa, sim, sensors, tracking, astro, rf) → services → jobs & bus → interfaces.
"""

__version__ = "0.1.0"
