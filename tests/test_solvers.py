"""The solvers and their phases on small quadratics with known minimisers.

Every solver in :data:`gdestimators._solvers.SOLVERS` minimises
``F(theta) = 1/2 (theta - t)^T A (theta - t) + sum_j l1_j |theta_j|`` here:
without L1 the minimiser is ``t``; with a diagonal ``A`` and L1 it is the
soft-thresholded ``t`` (each coordinate is a one-dimensional problem),
written by hand below; solvers for smooth objectives only must refuse it.
The phases (step choice, acceptance, deferred read, rise test, streaming
step) are checked against values computed by hand.
"""

import math
import re

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
from gdestimators._solvers._common import (
    L1_SOLVERS,
    Rounding,
    evaluate_start,
    rose_beyond_rounding,
)
from gdestimators._solvers._first_order import _backtracking_step
from gdestimators._solvers._lbfgs import (
    CurvaturePairs,
    StrongWolfeSearch,
    Trial,
    _cubic_minimiser,
    _quadratic_minimiser,
    safeguarded_interpolation,
)


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
    if solver not in L1_SOLVERS:
        # Smooth-objective solvers refuse, naming those that handle L1.
        names = ", ".join(repr(name) for name in L1_SOLVERS)
        with pytest.raises(ValueError, match=f"l1_ratio.*{re.escape(names)}"):
            SOLVERS[solver](problem, np.zeros_like(target), learning_rate="auto",
                            max_iter=10, tol=1e-12, log=IterationLog())
        return
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


def test_deferred_reads_record_every_iteration_but_the_last_in_order():
    log = IterationLog()
    reads = DeferredReads(log, every=4)
    due = [reads.due(iteration, max_iter=10) for iteration in range(1, 11)]
    assert due == [True, False, False, True, False, False, False, True, False, True]
    for value in (3.0, 2.0, 1.0):
        reads.add(None, np.asarray(value), np.asarray(value / 10), np.asarray(0.5))
    objective, predicted, step, refusals = reads.flush(
        iteration=3, refusals=np.asarray(2.0)
    )
    # The last iteration is left to the caller, to record after the stop test
    # (which may move the point kept and certify the gap).
    assert log.objective_curve == [3.0, 2.0]
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


# ---------------------------------------------------------------------------
# L-BFGS: the two-loop recursion and the strong Wolfe line search.
# ---------------------------------------------------------------------------


def bfgs_inverse_hessian(pairs):
    """``H_k`` by the BFGS update formula, from ``gamma I``, oldest pair first.

    ``H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T`` with
    ``rho = 1 / <y, s>`` (Nocedal & Wright, (7.19)) and ``gamma`` of the
    newest pair, as an explicit matrix.
    """
    s_last, y_last = pairs[-1]
    n = s_last.size
    H = (s_last @ y_last) / (y_last @ y_last) * np.eye(n)
    for s, y in pairs:
        rho = 1.0 / (y @ s)
        V = np.eye(n) - rho * np.outer(y, s)
        H = V.T @ H @ V + rho * np.outer(s, s)
    return H


def test_two_loop_recursion_equals_the_bfgs_inverse_hessian_product():
    rng = np.random.default_rng(0)
    shape = (5, 2)  # theta's layout: rows of features, columns of outputs
    n = shape[0] * shape[1]
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.geomspace(0.1, 100.0, n)) @ Q.T
    pairs = CurvaturePairs(memory=3)
    stored = []
    for _ in range(5):
        s = rng.standard_normal(n)
        y = A @ s  # a positive-definite curvature: <s, y> > 0
        assert pairs.update(s.reshape(shape), y.reshape(shape), s @ y, y @ y)
        stored.append((s, y))
    gradient = rng.standard_normal(n)
    # Only the last three pairs are kept.
    expected = -bfgs_inverse_hessian(stored[-3:]) @ gradient
    direction = pairs.direction(gradient.reshape(shape))
    assert direction.shape == shape
    assert_allclose(direction.ravel(), expected, rtol=1e-10, atol=1e-12)
    # The secant equation of the newest pair, H y = s.
    s, y = stored[-1]
    assert_allclose(-pairs.direction(y.reshape(shape)).ravel(), s, rtol=1e-10)


def test_pairs_without_positive_curvature_are_skipped():
    pairs = CurvaturePairs(memory=5)
    s, y = np.array([[1.0], [0.0]]), np.array([[2.0], [0.0]])
    assert pairs.update(s, y, 2.0, 4.0)
    before = pairs.direction(np.array([[1.0], [1.0]]))
    assert not pairs.update(s, -y, -2.0, 4.0)
    assert not pairs.update(s, 0 * y, 0.0, 0.0)
    assert len(pairs) == 1
    assert_allclose(pairs.direction(np.array([[1.0], [1.0]])), before)
    # One pair along e1 with curvature 2: H = diag(1/2, gamma = 1/2).
    assert_allclose(before, [[-0.5], [-0.5]])
    pairs.clear()
    assert_allclose(pairs.direction(np.array([[1.0], [3.0]])), [[-1.0], [-3.0]])


def lbfgs_iterates(problem, theta, **options):
    """The starting point and every iterate accepted by lbfgs, and its result."""
    iterates = [theta]
    log = IterationLog(observer=iterates.append)
    result = SOLVERS["lbfgs"](problem, theta, log=log, **options)
    return iterates, result


def assert_strong_wolfe(problem, iterates):
    """The strong Wolfe conditions between successive iterates, recomputed.

    With the move ``s = a d``, ``F(x + s) <= F(x) + c1 <g, s>`` and
    ``|<g(x + s), s>| <= c2 |<g, s>|`` are the conditions on the step ``a``
    along ``d``, multiplied by ``a > 0``: no need to know ``a`` or ``d``.
    """
    assert len(iterates) > 2
    for before, after in zip(iterates, iterates[1:], strict=False):
        value, gradient = problem.smooth(before)
        value_after, gradient_after = problem.smooth(after)
        move = after - before
        slope, slope_after = np.sum(gradient * move), np.sum(gradient_after * move)
        assert slope < 0  # a descent direction
        assert value_after <= value + 1e-4 * slope
        assert abs(slope_after) <= 0.9 * abs(slope)


@pytest.mark.parametrize("learning_rate", ["auto", 1e-4, 30.0],
                         ids=["auto", "expand-first", "zoom-first"])
def test_lbfgs_steps_meet_the_strong_wolfe_conditions_on_a_quadratic(learning_rate):
    A, target = ill_conditioned(n=8, condition=1e3)
    problem = quadratic_problem(A, target)
    iterates, result = lbfgs_iterates(problem, np.zeros_like(target),
                                      learning_rate=learning_rate, max_iter=200, tol=1e-6)
    assert result.converged
    assert_strong_wolfe(problem, iterates)
    assert_allclose(result.theta, target, atol=1e-6)


@pytest.mark.parametrize("dataset", ["breast_cancer", "wine"])
def test_lbfgs_steps_meet_the_strong_wolfe_conditions_on_a_logistic_problem(dataset):
    from sklearn.datasets import load_breast_cancer, load_wine

    from gdestimators._losses import classification_loss
    from gdestimators._problem import ObjectiveSettings, build_problem

    X, y = (load_breast_cancer if dataset == "breast_cancer" else load_wine)(return_X_y=True)
    classes, y_index = np.unique(y, return_inverse=True)
    loss = classification_loss(classes.size)
    settings = ObjectiveSettings(loss, loss.encode_targets(y_index, np.float64),
                                 l2_strength=1.0 / X.shape[0], l1_strength=0.0)
    problem, model = build_problem(X, settings, np.ones(X.shape[0]), fit_intercept=True,
                                   precondition="auto")
    iterates, result = lbfgs_iterates(problem, model.start(), learning_rate="auto",
                                      max_iter=1000, tol=1e-6)
    assert result.converged
    assert_strong_wolfe(problem, iterates)


def test_wolfe_search_refuses_an_ascent_direction():
    A, target = ill_conditioned(n=4, condition=10.0)
    problem = quadratic_problem(A, target)
    theta = np.zeros_like(target)
    value, gradient = problem.smooth(theta)
    search = StrongWolfeSearch(problem, Rounding(theta), stop_quantity=problem.predicted_gap)
    assert search.along(theta, float(value), gradient, gradient, 1.0) is None
    trial = search.along(theta, float(value), gradient, -gradient, 1.0)
    assert trial is not None and trial.objective < float(value)


def test_interpolation_finds_the_minimiser_at_steps_near_underflow():
    """``phi(t) = (t / 1e-300 - 1.5)^2``: steps of 1e-300, as in raw
    coordinates whose curvatures reach 1e300, where the squared width of
    the bracket underflows to zero and squared slopes overflow. Both
    interpolants are exact for a quadratic: the minimiser 1.5e-300."""
    def point(step):
        u = step / 1e-300
        return Trial(step, (u - 1.5) ** 2, 2.0 * (u - 1.5) / 1e-300, 0.0, 0.0, 0.0)

    low, high = point(1e-300), point(1.8e-300)
    # What the interpolants must survive.
    width = high.step - low.step
    assert width * width == 0.0 and low.slope * low.slope == math.inf
    exact = pytest.approx(1.5e-300, rel=1e-12, abs=0.0)
    assert _cubic_minimiser(low, high) == exact
    assert _quadratic_minimiser(low, high) == exact
    assert safeguarded_interpolation(low, high) == exact
    # The safeguard keeps 10% of the bracket from its ends.
    assert safeguarded_interpolation(point(1.45e-300), point(2.45e-300)) == pytest.approx(
        1.55e-300, rel=1e-12, abs=0.0
    )
