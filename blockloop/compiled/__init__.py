"""The compiled backend: a diagram lowered to flat tables and run by one cached numba step loop.

``blockloop.compiled`` imports numba only when a program is run (``backend.run_plan``), so
``import blockloop`` stays light and blockloop works without numba (the ``compiled`` extra).
"""

from .lowering import LoweredProgram, ParamSlot, lower, uncompiled_blocks, without_compiled_adjoint

__all__ = ["LoweredProgram", "ParamSlot", "lower", "uncompiled_blocks", "without_compiled_adjoint"]
