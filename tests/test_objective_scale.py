"""Every objective a user can see is the documented objective, in its documented form.

``GDLinearRegression`` documents ``F`` in the units of ``y`` squared (the
solvers work on targets divided by their largest magnitude, so their own
values are ``F / output_scale**2``); ``GDLogisticRegression`` documents the
mean form (scikit-learn's objective divided by ``C S``). For both estimators
and every solver of ``gdestimators._solvers.SOLVERS``, on raw data, each of:

* every ``iter`` line that ``verbose`` prints (parsed from stdout),
* every entry of ``loss_curve_``,
* the estimator that scikit-learn's callbacks reconstruct at each iteration,

is checked against the independent objective of :mod:`gdestimators._reference`
of the coefficients of that iteration, on the same data; and the numbers in
the messages (``DivergenceError``'s "rose from ... to ...", the relative gap of
the ``ConvergenceWarning``) against the same objective or against the
documented attributes. Scaling ``y`` by 1000 scales every least-squares value
by 1e6 and leaves the relative ones alone.
"""

import re
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.exceptions import ConvergenceWarning

from gdestimators import DivergenceError, GDLinearRegression, GDLogisticRegression
from gdestimators._reference import (
    least_squares_objective,
    log_loss_objective,
    log_loss_objective_and_gradient,
)
from gdestimators._solvers import SOLVERS

#: Printed objectives carry 11 significant digits (``.10e``).
PRINTED_RTOL = 1e-10
#: The library's objective and the reference's differ in summation order only.
OBJECTIVE_RTOL = 1e-10

LINE = re.compile(
    r"^\[(?P<name>[^\]]+)\] iter\s+(?P<iteration>\d+)\s+objective (?P<objective>\S+)"
    r"\s+gap~ (?P<gap>\S+)\s+step (?P<step>\S+)$"
)


class SnapshotCallback:
    """Keeps the estimator scikit-learn's callbacks reconstruct after each iteration."""

    def setup(self, estimator, context):
        self.snapshots = []

    def on_fit_task_begin(self, estimator, context, **kwargs):
        pass

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None, **kwargs):
        if context.task_name == "iteration" and fitted_estimator is not None:
            self.snapshots.append(fitted_estimator)
        return False

    def teardown(self, estimator, context):
        pass


def _problems():
    """``(id, estimator parameters, X, y, objective(coef, intercept))``."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    yield ("linear ridge", GDLinearRegression, dict(alpha=0.1), X, y,
           lambda c, b, X=X, y=y: least_squares_objective(X, y, c, b, alpha=0.1))
    yield ("linear elastic net", GDLinearRegression, dict(alpha=0.5, l1_ratio=0.5), X, y,
           lambda c, b, X=X, y=y: least_squares_objective(X, y, c, b, alpha=0.5,
                                                          l1_ratio=0.5))
    X, y = load_breast_cancer(return_X_y=True)
    yield ("logistic binary", GDLogisticRegression, dict(C=1.0), X, y,
           lambda c, b, X=X, y=y: log_loss_objective(X, y, c, b, C=1.0))
    X, y = load_iris(return_X_y=True)
    yield ("logistic softmax l1", GDLogisticRegression, dict(C=10.0, l1_ratio=0.3), X, y,
           lambda c, b, X=X, y=y: log_loss_objective(X, y, c, b, C=10.0, l1_ratio=0.3))


PROBLEMS = {problem[0]: problem[1:] for problem in _problems()}


def _fit_and_watch(Estimator, params, X, y, capsys, **extra):
    """Fit with verbose lines for every iteration and a snapshot callback."""
    callback = SnapshotCallback()
    model = Estimator(**params, verbose=1000, max_iter=300, **extra).set_callbacks(callback)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(X, y)
    lines = [LINE.match(line) for line in capsys.readouterr().out.splitlines()]
    return model, [line for line in lines if line], callback.snapshots, caught


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_verbose_loss_curve_and_callbacks_show_the_documented_objective(problem, solver,
                                                                         capsys):
    Estimator, params, X, y, objective = PROBLEMS[problem]
    if solver == "lbfgs" and params.get("l1_ratio", 0) > 0:
        pytest.skip("L-BFGS needs a smooth objective (no L1 part)")
    model, lines, snapshots, _ = _fit_and_watch(Estimator, {**params, "solver": solver},
                                                X, y, capsys)
    n_iter = int(np.ravel(model.n_iter_)[0])
    curve = model.loss_curve_
    assert len(curve) == n_iter >= 1
    # One callback task per iteration, holding that iteration's model, whose
    # independent objective is the iteration's entry of loss_curve_.
    assert len(snapshots) == n_iter
    for iteration, snapshot in enumerate(snapshots):
        np.testing.assert_allclose(
            objective(snapshot.coef_, snapshot.intercept_), curve[iteration],
            rtol=OBJECTIVE_RTOL, err_msg=f"callback's model at iteration {iteration + 1}")
    # ... and the last is the fitted model.
    np.testing.assert_allclose(objective(model.coef_, model.intercept_), curve[-1],
                               rtol=OBJECTIVE_RTOL)
    # verbose prints every iteration once (verbose=1000), with loss_curve_'s value.
    iterations = [int(line["iteration"]) for line in lines]
    assert iterations == list(range(1, n_iter + 1)), iterations
    printed = np.array([float(line["objective"]) for line in lines])
    np.testing.assert_allclose(printed, curve, rtol=PRINTED_RTOL)
    # The last line's gap is dual_gap_, in the same units.
    np.testing.assert_allclose(float(lines[-1]["gap"]), model.dual_gap_, rtol=1e-3,
                               atol=1e-300)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_least_squares_values_are_in_units_of_y_squared(solver, capsys):
    """y times 1000: every objective shown (printed, loss_curve_, dual_gap_,
    the callbacks' models) times 1e6, the relative gap of the warning the
    same; the solver's own iterations are unchanged (it sees y / max|y|)."""
    Estimator, params, X, y, _ = PROBLEMS["linear ridge"]
    # Unpenalised: alpha would not scale with y.
    params = {"solver": solver}
    runs = [_fit_and_watch(Estimator, params, X, y * factor, capsys, tol=0.0)
            for factor in (1.0, 1000.0)]
    (small, small_lines, _, small_warnings), (large, large_lines, snapshots, large_warnings) = runs
    np.testing.assert_allclose(large.loss_curve_, 1e6 * np.array(small.loss_curve_),
                               rtol=1e-9)
    np.testing.assert_allclose([float(line["objective"]) for line in large_lines],
                               1e6 * np.array(small.loss_curve_), rtol=1e-9)
    for iteration, snapshot in enumerate(snapshots):
        np.testing.assert_allclose(
            least_squares_objective(X, y * 1000.0, snapshot.coef_, snapshot.intercept_),
            large.loss_curve_[iteration], rtol=OBJECTIVE_RTOL)
    np.testing.assert_allclose(large.dual_gap_, 1e6 * small.dual_gap_, rtol=1e-6, atol=1e-300)
    messages = [[str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
                for caught in (small_warnings, large_warnings)]
    assert [len(m) for m in messages] in ([0, 0], [1, 1])
    if messages[0]:
        gaps = [re.search(r"relative objective gap is (\S+) >", m[0]).group(1)
                for m in messages]
        assert gaps[0] == gaps[1], messages


def _start(Estimator, X, y):
    """The documented starting point: zero coefficients, the best intercept for them."""
    if Estimator is GDLinearRegression:
        return np.zeros(X.shape[1]), np.mean(y)
    shares = np.bincount(y) / len(y)
    return np.zeros((1, X.shape[1])), np.array([np.log(shares[1] / shares[0])])


@pytest.mark.parametrize("solver", list(SOLVERS))
@pytest.mark.parametrize("estimator_name", ["linear", "logistic"])
def test_divergence_message_quotes_the_documented_objective(estimator_name, solver):
    """The issue's example: raw diabetes, learning_rate=3 in plain coordinates.
    "rose from A to B at iteration 1": A is the objective at the start, B at
    the first gradient step, both recomputed with numpy (the solvers that
    take the rate as a first step only raise nothing)."""
    if estimator_name == "linear":
        X, y = load_diabetes(return_X_y=True, scaled=False)
        X = X / X.std(axis=0)  # raw offsets, unit spreads: 3 is far above 2/L
        Estimator, rate = GDLinearRegression, 3.0
    else:
        X, y = load_breast_cancer(return_X_y=True)
        X = X / X.std(axis=0)
        Estimator, rate = GDLogisticRegression, 30.0
    model = Estimator(solver=solver, precondition="none", learning_rate=rate, max_iter=50)
    if solver not in ("gd", "nesterov"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        return
    with pytest.raises(DivergenceError) as error:
        model.fit(X, y)
    match = re.search(r"rose from (\S+) to (\S+) at iteration (\d+)", str(error.value))
    assert match is not None and match.group(3) == "1", str(error.value)
    coef, intercept = _start(Estimator, X, y)
    if Estimator is GDLinearRegression:
        before = least_squares_objective(X, y, coef, intercept)
        residual = X @ coef + intercept - y
        coef = coef - rate * X.T @ residual / len(y)
        intercept = intercept - rate * np.mean(residual)
        after = least_squares_objective(X, y, coef, intercept)
    else:
        before, grad_coef, grad_intercept = log_loss_objective_and_gradient(
            X, y, coef, intercept)
        after = log_loss_objective(X, y, coef - rate * grad_coef,
                                   intercept - rate * grad_intercept)
    # Quoted with 6 significant digits.
    np.testing.assert_allclose(float(match.group(1)), before, rtol=1e-5)
    np.testing.assert_allclose(float(match.group(2)), after, rtol=1e-5)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_convergence_warning_quotes_the_relative_gap_of_the_attributes(solver):
    """Stopped by max_iter: the warning's relative gap is dual_gap_ over the
    last loss_curve_ entry (both documented, in the same units)."""
    X, y = load_breast_cancer(return_X_y=True)
    model = GDLogisticRegression(solver=solver, max_iter=2, tol=1e-15)
    with pytest.warns(ConvergenceWarning) as caught:
        model.fit(X, y)
    message = str(caught[0].message)
    gap = float(re.search(r"relative objective gap is (\S+) >", message).group(1))
    np.testing.assert_allclose(gap, model.dual_gap_ / abs(model.loss_curve_[-1]), rtol=5e-3)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_a_fit_of_one_iteration_prints_its_line_once(solver, capsys):
    """Least squares in decorrelated coordinates: one step solves it."""
    X, y = load_diabetes(return_X_y=True, scaled=False)
    model = GDLinearRegression(solver=solver, verbose=1).fit(X, y)
    printed = [int(line["iteration"]) for line in map(LINE.match, capsys.readouterr().out
                                                          .splitlines()) if line]
    # verbose=1: the first iteration, every 100th and the last, each once.
    n_iter = len(model.loss_curve_)
    expected = sorted({1, n_iter} | set(range(100, n_iter + 1, 100)))
    assert printed == expected, (printed, n_iter)
