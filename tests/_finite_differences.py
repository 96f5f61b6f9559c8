"""Central finite differences shared by the test modules (on pytest's ``pythonpath``)."""

import numpy as np


def central_difference(function, x, eps=1e-6):
    """Central finite-difference gradient of the scalar ``function`` at ``x``.

    Entry ``i`` is stepped by ``eps * max(1, |x_i|)``: the truncation error is
    ``O(step^2 f''')`` and the rounding error ``O(ulp(f) / step)``, both about
    ``1e-10`` for ``eps = 1e-6`` and ``f``, ``x`` of order one.
    """
    x = np.array(x, dtype=np.float64)
    gradient = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = eps * max(1.0, abs(x[index]))
        plus, minus = x.copy(), x.copy()
        plus[index] += step
        minus[index] -= step
        gradient[index] = (function(plus) - function(minus)) / (2.0 * step)
    return gradient
