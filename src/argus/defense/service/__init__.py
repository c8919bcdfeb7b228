"""Defense service: the one door between the defense engines/pipeline and storage.

- ``catalog``: the seed's type tables and the defense demo (RAD_VBG, BAT_LA, BAT_SD);
- ``store``: run configuration from a scenario, the order book (rounds taken in the order's
  transaction), the event log, outcomes, pipeline tracks into TEWA's tables;
- ``models``: the trained classifier's registry;
- ``runtime``: one live run behind the API (launches, cycles, the radar frame);
- ``training``: ``argus models train-classifier``;
- ``coverage``: which sites see which points (PostGIS ``ST_DWithin`` / numpy).
"""
