"""Bridges to other tools. Submodules import their peer library lazily:
``blockloop.interop.torch`` needs PyTorch."""

__all__: list[str] = []
