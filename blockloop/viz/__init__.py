"""Pictures: diagram drawings (Graphviz DOT, matplotlib) and scopes (signal plots).

matplotlib is imported inside the functions that draw, so importing blockloop stays light.
Import from the submodules directly: ``render`` (one entry point), ``draw_mpl`` (the default
renderer), ``dot`` (Graphviz), ``layout``/``routing``/``channels``/``frames`` (the geometry),
``collapse`` (``depth=N``), ``scope`` (signal plots).
"""
