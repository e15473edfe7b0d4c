"""Numbers the reference live script published (MATLAB R2023a, G. Campa, 4-Apr-2023).

Source: ``shared/reference/002_*.txt``, "How Well Can LSTMs Approximate Linear Dynamical
Systems?" to the end. Values are as printed (4–5 significant digits). The validation "diff"
norms appear only in figure titles that the text does not reproduce, so none are listed.

Training logs are ``(epoch, rmse, loss, base learning rate)`` rows as printed every 500 epochs.
"""

from __future__ import annotations

import numpy as np

__all__ = ["SYSTEM", "RUN_COMPUTED", "RUN_RANDOM", "MATLAB_SECONDS_PER_RUN", "PARAMETER_EXAMPLE", "quadratic_roots"]


def quadratic_roots(b: float, c: float) -> list[complex]:
    """Roots of z² + b·z + c (for the printed zpk factors)."""
    return [complex(r) for r in np.roots([1.0, b, c])]


#: The reference plant after ``ss(c2d(zpk(-4, [-9±5i, -2±50i], 5e5), 0.01))``.
SYSTEM = {
    "D": 0.0,
    "dcgain": 7.5351,
    "zpk_gain": 0.078673,
    "zeros": [-3.517, 0.9608, -0.2599],
    "poles": quadratic_roots(-1.826, 0.8353) + quadratic_roots(-1.72, 0.9608),
    "Ts": 0.01,
}

#: Run 1: trainNetwork from the computed weights (lr0 1e-4, ×0.99 every 100 epochs, 10 000 epochs).
RUN_COMPUTED = {
    "options": {"lr0": 1e-4, "drop_factor": 0.99, "drop_period": 100, "epochs": 10000, "grad_threshold": 1.0},
    "log": [(1, 0.05, 1.2e-03, 1.0000e-04), (500, 1.22, 0.7, 9.6060e-05), (1000, 0.65, 0.2, 9.1352e-05),
            (1500, 0.56, 0.2, 8.6875e-05), (2000, 0.60, 0.2, 8.2617e-05), (2500, 0.55, 0.2, 7.8568e-05),
            (3000, 0.44, 9.7e-02, 7.4717e-05), (3500, 0.60, 0.2, 7.1055e-05), (4000, 0.45, 0.1, 6.7573e-05),
            (4500, 0.36, 6.5e-02, 6.4261e-05), (5000, 0.56, 0.2, 6.1112e-05), (5500, 0.39, 7.6e-02, 5.8117e-05),
            (6000, 0.31, 4.7e-02, 5.5268e-05), (6500, 0.49, 0.1, 5.2560e-05), (7000, 0.34, 5.7e-02, 4.9984e-05),
            (7500, 0.26, 3.5e-02, 4.7534e-05), (8000, 0.43, 9.1e-02, 4.5204e-05), (8500, 0.29, 4.2e-02, 4.2989e-05),
            (9000, 0.22, 2.5e-02, 4.0882e-05), (9500, 0.37, 6.8e-02, 3.8878e-05), (10000, 0.25, 3.1e-02, 3.6973e-05)],
    "readback": {
        "D": 0.0052,
        "dcgain": 8.3344,
        "zpk_gain": 0.0051693,
        "zeros": [0.9464, 0.1091, 1.201e-07] + quadratic_roots(9.632, 67.54),
        "poles": [0.1826] + quadratic_roots(-1.822, 0.8337) + quadratic_roots(-1.721, 0.9611),
    },
    # Largest |final − initial| read off the printed matrices (4 decimals; W and b_g ×1e-3 as printed).
    "gate_changes": {"i": {"W": 0.0, "R": 0.0, "b": 0.0}, "f": {"W": 0.0, "R": 0.0, "b": 0.0},
                     "g": {"W": 2.896e-4, "R": 0.1978, "b": 1.981e-4}, "o": {"W": 0.0, "R": 0.0, "b": 0.0},
                     "F": 0.2176, "F_bias": 1.3186e-04},
}

#: Run 2: trainNetwork from rand weights (lr0 0.04, ×0.98 every 100 epochs, 10 000 epochs).
RUN_RANDOM = {
    "options": {"lr0": 0.04, "drop_factor": 0.98, "drop_period": 100, "epochs": 10000, "grad_threshold": 1.0},
    "log": [(1, 7.79, 30.3, 0.0400), (500, 1.58, 1.3, 0.0369), (1000, 1.24, 0.8, 0.0333), (1500, 1.03, 0.5, 0.0301),
            (2000, 0.99, 0.5, 0.0272), (2500, 0.85, 0.4, 0.0246), (3000, 0.86, 0.4, 0.0223), (3500, 0.87, 0.4, 0.0201),
            (4000, 0.55, 0.1, 0.0182), (4500, 0.48, 0.1, 0.0164), (5000, 0.55, 0.1, 0.0149),
            (5500, 0.42, 8.9e-02, 0.0134), (6000, 0.33, 5.6e-02, 0.0121), (6500, 0.34, 5.8e-02, 0.0110),
            (7000, 0.30, 4.4e-02, 0.0099), (7500, 0.26, 3.3e-02, 0.0090), (8000, 0.25, 3.1e-02, 0.0081),
            (8500, 0.27, 3.6e-02, 0.0073), (9000, 0.24, 2.8e-02, 0.0066), (9500, 0.22, 2.4e-02, 0.0060),
            (10000, 0.22, 2.5e-02, 0.0054)],
    "F_bias": -3.3492,
}

#: MATLAB's wall time for each 10 000-epoch run ("00:00:45" in both logs, single CPU).
MATLAB_SECONDS_PER_RUN = 45.0

#: Two LSTM layers of 100 units: R1 + W2 + R2 = 120 000 weight elements (no biases, no W1).
PARAMETER_EXAMPLE = 120000
