"""Ready-made diagrams built from library blocks only."""

from .lstm import lstm_layer, lstm_network
from .state_space import state_space_diagram
from .weights import GATES, LayerWeights, NetworkWeights, matlab_rand

__all__ = ["lstm_layer", "lstm_network", "LayerWeights", "NetworkWeights", "GATES", "matlab_rand",
           "state_space_diagram"]
