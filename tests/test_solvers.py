"""The solvers and their phases on small quadratics with known minimisers.

Every solver in :data:`gdestimators._solvers.SOLVERS` minimises
``F(theta) = 1/2 (theta - t)^T A (theta - t) + sum_j l1_j |theta_j|`` here:
without L1 the minimiser is ``t``; with a diagonal ``A`` and L1 it is the
soft-thresholded ``t`` (each coordinate is a one-dimensional problem),
written by hand below. The phases (step choice, acceptance, deferred read,
rise test, streaming step) are checked against values computed by hand.
"""

import math

import numpy as np
import pytest
from numpy.testing import assert_allclose

from gdestimators._hessian import HessianMatrix
from gdestimators._penalties import ElasticNet
from gdestimators._solvers import SOLVERS, IterationLog, Problem, decaying_step
from gdestimators._solvers._barzilai_borwein import (
    AdaptiveStep,
    DeferredReads,
    NonmonotoneAcceptance,
)
from gdestimators._solvers._common import Rounding, evaluate_start, rose_beyond_rounding
from gdestimators._solvers._first_order import _backtracking_step


def quadratic_problem(A, target, l1_weights=None, minimum=1e-6):
    """``minimum + 1/2 (theta - t)^T A (theta - t)`` (+ weighted L1) as a Problem.

    ``tol`` bounds the gap relative to the objective, so the minimum is kept
    away from zero. The Hessian ``A`` is given for Newton's method; no
    certificate, so the solvers' own predictions decide.
    """
    n = target.shape[0]
    l1 = np.zeros(n) if l1_weights is None else np.asarray(l1_weights, dtype=float)

    def smooth(theta):
        difference = theta - target
        gradient = A @ difference
        return np.asarray(minimum + 0.5 * np.sum(difference * gradient)), gradient

    def second_order(theta):
        value, gradient = smooth(theta)
        return value, gradient, HessianMatrix(A, n_outputs=1, shared=False)

    def lipschitz(n_iter):
        return float(np.linalg.eigvalsh(A).max())

    return Problem(smooth, ElasticNet(0.0, l1), lipschitz, second_order=second_order,
                   n_coordinates=n, hessian_cost=1.0)


def ill_conditioned(n=6, condition=1e3, seed=0):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.geomspace(1.0, condition, n)) @ Q.T
    return 0.5 * (A + A.T), rng.standard_normal((n, 1))


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_every_solver_reaches_the_minimiser_of_a_quadratic(solver):
    A, target = ill_conditioned()
    problem = quadratic_problem(A, target)
    result = SOLVERS[solver](
        problem, np.zeros_like(target), learning_rate="auto", max_iter=100_000,
        tol=1e-13, log=IterationLog(),
    )
    assert result.converged and not result.stalled
    # A gap of at most 1e-13 * 1e-6 and the smallest eigenvalue 1:
    # |theta - t| <= sqrt(2e-19) < 1e-9.
    assert_allclose(result.theta, target, atol=1e-9)
    assert len(result.objective_curve) == result.n_iter >= 1


@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_every_solver_reaches_the_soft_thresholded_minimiser(solver):
    diagonal = np.array([1.0, 4.0, 0.5, 10.0, 2.0])
    target = np.array([[3.0], [-0.1], [0.2], [-2.0], [0.05]])
    l1 = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    # argmin 1/2 a (x - t)^2 + l |x| = sign(t) max(|t| - l/a, 0).
    expected = np.sign(target) * np.maximum(np.abs(target) - (l1 / diagonal)[:, None], 0)
    problem = quadratic_problem(np.diag(diagonal), target, l1)
    result = SOLVERS[solver](
        problem, np.zeros_like(target), learning_rate="auto", max_iter=10_000,
        tol=1e-17, log=IterationLog(),
    )
    assert result.converged
    # A gap of at most 1e-23 and curvatures of at least 0.5: |error| < 1e-11.
    assert_allclose(result.theta, expected, atol=1e-11)
    # Exact zeros where the threshold wins.
    assert np.all(result.theta[expected == 0] == 0)


@pytest.mark.parametrize("solver", ["gd", "nesterov"])
def test_fixed_step_beyond_two_over_l_raises(solver):
    from gdestimators._solvers import DivergenceError

    A, target = ill_conditioned(condition=10.0)
    problem = quadratic_problem(A, target)
    with pytest.raises(DivergenceError, match="too large"):
        SOLVERS[solver](problem, np.zeros_like(target), learning_rate=0.3, max_iter=50,
                        tol=1e-12, log=IterationLog())


def test_gradient_descent_objective_never_rises():
    A, target = ill_conditioned(condition=50.0)
    result = SOLVERS["gd"](quadratic_problem(A, target), np.zeros_like(target),
                           learning_rate="auto", max_iter=300, tol=0.0, log=IterationLog())
    assert np.all(np.diff(result.objective_curve) <= 0)


# ---------------------------------------------------------------------------
# Phases.
# ---------------------------------------------------------------------------


def test_rise_test():
    assert not rose_beyond_rounding(1.0, 1.0 + 1e-13, slack=1e-12)
    assert rose_beyond_rounding(1.0, 1.0 + 1e-11, slack=1e-12)
    assert not rose_beyond_rounding(-1.0, -1.0 + 1e-13, slack=1e-12)
    assert rose_beyond_rounding(1.0, math.nan, slack=1e-12)


def test_rounding_depends_on_the_precision():
    assert Rounding(np.zeros(1)).slack == 1e-12
    float32 = Rounding(np.zeros(1, dtype=np.float32))
    assert float32.slack == float32.noise == 64 * float(np.finfo(np.float32).eps)


def test_adaptive_step_is_the_barzilai_borwein_step_on_a_quadratic():
    """On ``F = 1/2 x^T A x`` a move ``s`` changes the gradient by ``A s``."""
    A = np.diag([1.0, 3.0])
    move = np.array([[1.0], [1.0]])
    change = A @ move
    long_step = 2.0 / 4.0  # <s, s> / <s, As>
    short_step = 4.0 / 10.0  # <s, As> / <As, As>
    rule = AdaptiveStep(move)
    step = rule.next_step(np.asarray(1.0), np.asarray(True), move, change)
    # short/long = 0.8 is not below the switch 0.8: the long step.
    assert_allclose(step, long_step)
    # A gradient turning harder: the (smallest recent) short step.
    A = np.diag([1.0, 10.0])
    change = A @ move
    step = rule.next_step(np.asarray(1.0), np.asarray(True), move, change)
    assert_allclose(step, min(short_step, 11.0 / 101.0))
    # No positive curvature along the move: the step is kept.
    step = rule.next_step(np.asarray(0.7), np.asarray(True), move, -change)
    assert_allclose(step, 0.7)


def test_nonmonotone_acceptance_compares_with_the_recent_maximum():
    rounding = Rounding(np.zeros(1))
    acceptance = NonmonotoneAcceptance(np.asarray(10.0), 3, rounding, smooth_only=False)
    acceptance.remember(np.asarray(True), np.asarray(9.0))
    acceptance.remember(np.asarray(True), np.asarray(5.0))
    move = np.array([[1e-3]])
    # A rise from 5 to 8.9 is below the recent maximum 9 minus 1e-4/2 * 1e-6.
    assert acceptance.accepts(np.asarray(5.0), np.asarray(8.9), move, move, 1.0)
    assert not acceptance.accepts(np.asarray(5.0), np.asarray(9.0), move, move, 1.0)
    # A move that rounds to zero is refused.
    assert not acceptance.accepts(np.asarray(5.0), np.asarray(1.0), 0 * move, move, 1.0)
    # A refused trial is not remembered; the memory keeps the last three.
    acceptance.remember(np.asarray(False), np.asarray(100.0))
    acceptance.remember(np.asarray(True), np.asarray(4.0))
    acceptance.remember(np.asarray(True), np.asarray(3.0))
    assert not acceptance.accepts(np.asarray(3.0), np.asarray(6.0), move, move, 1.0)
    assert acceptance.accepts(np.asarray(3.0), np.asarray(4.9), move, move, 1.0)


def test_deferred_reads_record_every_iteration_in_order():
    log = IterationLog()
    reads = DeferredReads(log, every=4)
    due = [reads.due(iteration, max_iter=10) for iteration in range(1, 11)]
    assert due == [True, False, False, True, False, False, False, True, False, True]
    for value in (3.0, 2.0, 1.0):
        reads.add(None, np.asarray(value), np.asarray(value / 10), np.asarray(0.5))
    objective, predicted, step, refusals = reads.flush(
        iteration=3, refusals=np.asarray(2.0)
    )
    assert log.objective_curve == [3.0, 2.0, 1.0]
    assert (objective, predicted, step, refusals) == (1.0, 0.1, 0.5, 2.0)


def test_backtracking_doubles_l_until_the_quadratic_model_holds():
    A, target = np.diag([8.0]), np.array([[1.0]])
    problem = quadratic_problem(A, target)
    value, gradient, *_ = evaluate_start(problem, np.zeros((1, 1)))
    trial = _backtracking_step(problem, np.zeros((1, 1)), value, gradient, 1.0,
                               fixed=False, slack=1e-12)
    # The model with L holds exactly when L >= 8: 1 -> 2 -> 4 -> 8.
    assert trial.lipschitz == 8.0
    assert_allclose(trial.point, target)


def test_decaying_step_size():
    A, target = np.eye(2), np.array([[1.0], [2.0]])
    theta, objective = decaying_step(
        quadratic_problem(A, target), np.zeros((2, 1)), base_step=0.5, step_number=4
    )
    # Gradient -t at zero; step 0.5 / sqrt(4) = 0.25.
    assert_allclose(theta, 0.25 * target)
    assert_allclose(objective, 1e-6 + 0.5 * 5.0)


def test_one_iteration_fit_prints_its_line_once(capsys):
    log = IterationLog(verbose=1, name="test")
    log.record(1, None, 2.0, 0.0, 1.0)
    log.finish(converged=True)
    lines = capsys.readouterr().out.splitlines()
    assert sum("iter      1" in line for line in lines) == 1


def test_log_stores_user_units():
    log = IterationLog(output_scale=2.0)
    log.record(1, None, 0.5, 0.0, 1.0)
    assert log.objective_curve == [2.0]
