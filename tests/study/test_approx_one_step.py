"""One validation step: y[0] = D·u[0] from x0 = 0 (python-control cannot simulate a single time point)."""

import numpy as np

from blockloop.study.approx import simulate_linear


def test_simulate_linear_single_step_is_the_feedthrough():
    system = ([[0.5, 0.0], [0.1, 0.2]], [[1.0], [0.0]], [[1.0, 2.0], [0.0, 1.0]], [[0.3], [-0.7]])
    import control

    sys = control.ss(*system, 0.1)
    y = simulate_linear(sys, [[2.0]])
    np.testing.assert_allclose(y, [[0.6, -1.4]])
    np.testing.assert_allclose(simulate_linear(sys, [[2.0], [1.0]])[:1], y)  # the same first sample
