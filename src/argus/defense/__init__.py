"""Defense engines: interceptor flight and guidance, engagement envelopes, track classification,
threat levels and electronic warfare (pure numpy/scipy/scikit-learn; no service framework).

The pipeline (``argus.pipeline``) and the defense service wire these to the bus and the database;
the training data for the classifier is simulated by the orchestration layer
(``argus.scenario.training``), since an engine does not import another engine.
"""
