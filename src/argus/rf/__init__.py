"""Radio-frequency sensing and emitter localization (the Heimdall system): numpy/scipy engines.

``argus.rf.service`` is the domain's one door to storage; every other module here is an engine
module and imports no database, API, bus or job framework (docs/architecture.md).
"""
