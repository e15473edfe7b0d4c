"""Gradients through diagrams: trainable parameters by path, losses, backpropagation through time."""

from .gradient import GradientResult, gradient
from .losses import LOSSES, loss_and_cotangent
from .parameters import parameter_values, trainable_paths, with_parameters
from .train import FitResult, fit

__all__ = ["fit", "FitResult", "gradient", "GradientResult", "LOSSES", "loss_and_cotangent", "parameter_values",
           "trainable_paths", "with_parameters"]
