"""Gradient-descent-family solvers: one function per solver, phases shared.

Every solver minimises ``F(theta) = f(theta) + g(theta)`` where ``f`` is smooth
(``problem.smooth`` returns its value and gradient in one pass over the data)
and ``g`` is the L1 part of the penalty, handled by its proximal map, so that
plain gradient descent is the special case ``g = 0``. Solvers never see labels,
estimators or scikit-learn; they see a :class:`Problem`.

The stop test is shared (:class:`._common.StopTest`): ``tol`` bounds the
relative objective gap ``(F - min F) / F``, certified by the problem's
certificate (a duality gap, or the quadratic model's gap) once the solver's
own prediction of the gap says it may pass.

The loops stay where the data live (a GPU, say): objective values, inner
products and the stop test are 0-d arrays there. ``gd`` and ``nesterov``
read all the scalars a trial point's decisions need in one host transfer;
``bb`` decides on the device and reads only every few iterations;
``lbfgs`` reads once per trial point of its line search.

=============================  ===========================================
module                         solver
=============================  ===========================================
:mod:`._first_order`           ``gd`` (the note's algorithm), ``nesterov``
:mod:`._barzilai_borwein`      ``bb``
:mod:`._newton`                ``newton`` (proximal with an L1 part)
:mod:`._lbfgs`                 ``lbfgs`` (smooth objectives only)
:mod:`._auto`                  ``auto``: bb, newton or lbfgs by cost
:mod:`._streaming`             ``partial_fit``: streaming Newton, decaying step
:mod:`._common`                the problem, result, log and shared phases
=============================  ===========================================
"""

from ._auto import auto
from ._barzilai_borwein import barzilai_borwein
from ._common import (
    DivergenceError,
    IterationLog,
    Problem,
    SolverResult,
    check_finite,
    inverse_lipschitz,
    largest_eigenvalue,
)
from ._first_order import accelerated, gradient_descent
from ._lbfgs import lbfgs
from ._newton import newton
from ._streaming import StreamingNewton, decaying_step

#: Solvers by the name of the ``solver`` parameter.
SOLVERS = {
    "gd": gradient_descent,
    "nesterov": accelerated,
    "bb": barzilai_borwein,
    "newton": newton,
    "lbfgs": lbfgs,
    "auto": auto,
}

__all__ = [
    "SOLVERS",
    "DivergenceError",
    "IterationLog",
    "Problem",
    "SolverResult",
    "StreamingNewton",
    "check_finite",
    "decaying_step",
    "inverse_lipschitz",
    "largest_eigenvalue",
]
