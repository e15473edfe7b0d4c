"""Bridges to other tools. Submodules import their peer library lazily:
``blockloop.interop.torch`` needs PyTorch, ``blockloop.interop.bdsim`` needs bdsim 1.4,
``blockloop.interop.onnx`` onnx + onnxruntime, ``blockloop.interop.keras`` Keras 3 (torch backend),
``blockloop.interop.jax`` JAX + Flax (see docs/interop.md)."""

__all__: list[str] = []
