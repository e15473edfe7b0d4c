"""Ready-made diagrams built from library blocks only."""

from .gru import GRULayerWeights, GRUNetworkWeights, gru_layer, gru_network
from .kalman import (
    LinearGaussianModel,
    kalman_filter_diagram,
    kalman_predictor_diagram,
    kalman_time_varying_diagram,
    lgssm_diagram,
    steady_state,
)
from .lstm import lstm_layer, lstm_network
from .rnn import RNNLayerWeights, RNNNetworkWeights, rnn_layer, rnn_network
from .state_space import state_space_diagram
from .weights import GATES, LayerWeights, NetworkWeights, matlab_rand

__all__ = ["lstm_layer", "lstm_network", "LayerWeights", "NetworkWeights", "GATES", "matlab_rand",
           "state_space_diagram", "LinearGaussianModel", "steady_state", "lgssm_diagram", "kalman_predictor_diagram",
           "kalman_filter_diagram", "kalman_time_varying_diagram", "RNNLayerWeights", "RNNNetworkWeights", "rnn_layer",
           "rnn_network", "GRULayerWeights", "GRUNetworkWeights", "gru_layer", "gru_network"]
