"""Multi-target tracking engine: pure numpy/scipy, vectorized over all tracks.

Assembled from small swappable parts in the spirit of Stone Soup:

- :mod:`argus.tracking.models`: transition models (constant velocity, constant acceleration,
  coordinated turn) and measurement models (linear position, range/azimuth/elevation, unbiased
  converted measurements);
- :mod:`argus.tracking.filters`: batched Kalman / extended Kalman predictors and updaters
  (Joseph form) and the interacting multiple model (IMM) filter;
- :mod:`argus.tracking.gating` and :mod:`argus.tracking.association`: chi-square gating with
  KD-tree pre-gating, global nearest neighbour (GNN) and joint probabilistic data association
  (JPDA);
- :mod:`argus.tracking.management`: M-of-N initiation, tentative/confirmed/deleted states,
  deletion on missed scans or covariance growth, stable track ids;
- :mod:`argus.tracking.protocols`: the parts as structural protocols (predictor, updater, gate,
  associator, initiator, deleter), so a part of one's own plugs into the tracker;
- :mod:`argus.tracking.tracker`: the tracker assembled from those parts, and
  :func:`~argus.tracking.tracker.track_detections` to run it over arrays of detections from one
  or several radar sites;
- :mod:`argus.tracking.metrics`: OSPA, GOSPA, RMSE, NEES and SIAP-style measures;
- :mod:`argus.tracking.simulate`: simple constant-velocity truth and cluttered detections for
  tests and benchmarks.

See ``docs/tracking.md`` for the equations and references.
"""
