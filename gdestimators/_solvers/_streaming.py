"""The streaming solver behind ``partial_fit``: one proximal step per batch.

Cycling over batches with a constant step settles on a cycle biased towards
the last batches; a step that decays like ``1/sqrt(t)`` shrinks that bias, so
that epochs over the same batches converge to the minimiser of the whole
stream's objective.
"""

import math

from .._array_api import read_scalars
from ._common import check_finite


def decaying_step(problem, theta, *, base_step, step_number):
    """Take step ``step_number`` (from 1) on one batch's ``problem``.

    Parameters
    ----------
    problem : Problem
        The objective of this batch.
    theta : array
        The current parameters, in the problem's coordinates.
    base_step : float
        The first step size.
    step_number : int
        ``t``: the step taken is ``base_step / sqrt(t)``.

    Returns
    -------
    theta : array
        The parameters after the proximal gradient step.
    objective : float
        The batch's objective before the step (solver units).
    """
    value, gradient = problem.smooth(theta)
    (objective,) = read_scalars(problem.objective(theta, value))
    check_finite(objective, step_number - 1)
    step = base_step / math.sqrt(step_number)
    return problem.penalty.prox(theta - step * gradient, step), objective
