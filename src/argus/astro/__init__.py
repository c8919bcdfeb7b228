"""Transient detection in survey images (the AstrID system): pure numpy/scipy/astropy engines.

``argus.astro.service`` is the domain's one door to storage; every other module here is an
engine module and imports no database, API, bus or job framework (docs/architecture.md).
"""
