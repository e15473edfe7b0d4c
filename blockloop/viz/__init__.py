"""Pictures: diagram drawings (Graphviz DOT, matplotlib) and scopes (signal plots).

matplotlib is imported inside the functions that draw, so importing blockloop stays light.
Import from the submodules directly.
"""
