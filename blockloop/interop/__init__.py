"""Bridges to other tools. Submodules import their peer library lazily:
``blockloop.interop.torch`` needs PyTorch, ``blockloop.interop.bdsim`` needs bdsim 1.4."""

__all__: list[str] = []
