"""Sweeps over training configurations of the study, run on Dask, stored in SQLite, summarized in a report.

- :mod:`.config`: a TOML/JSON sweep file → the distinct run configurations (canonical JSON + hash);
- :mod:`.trial`: one run (start, train on the LSTM diagram, measure), what a Dask worker executes;
- :mod:`.runner`: the sweep on a Dask cluster (an embedded ``LocalCluster`` or ``--scheduler``);
- :mod:`.store`: the SQLite store, one row per run, written as each run finishes;
- :mod:`.report`: histograms, the attraction basin, the lr0 × drop-factor heat map, a table.

Nothing here is imported by ``import blockloop``; Dask and matplotlib are imported only when used.
See ``docs/sweeps.md``.
"""
