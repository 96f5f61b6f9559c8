"""Progress reporting: scikit-learn's callback API and ``verbose``.

A recording callback checks that every solver iteration opens and closes one
callback task, and that the estimator reconstructed at the end of each task
predicts with that iteration's coefficients (its objective, recomputed here,
equals ``loss_curve_`` at that iteration). ``ProgressBar`` runs on a real fit.
"""

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective
from gdestimators._solvers import SOLVERS


class RecordingCallback:
    """Records the fitted estimator passed at the end of every task."""

    def setup(self, estimator, context):
        self.ended = []

    def on_fit_task_begin(self, estimator, context, *, X=None, y=None,
                          metadata=None, fitted_estimator=None):
        pass

    def on_fit_task_end(self, estimator, context, *, X=None, y=None,
                        metadata=None, fitted_estimator=None):
        if context.task_name == "iteration" and fitted_estimator is not None:
            self.ended.append(fitted_estimator)
        return False

    def teardown(self, estimator, context):
        pass


# Newton's method (and "auto", which picks it for this small problem) solves
# least squares exactly, and L-BFGS, whose pairs learn the 11 curvatures of
# this quadratic, reaches the float64 floor of tol=0 in 37 iterations: they
# would not run the 40 iterations asked for here, and are checked on a
# logistic fit below.
CONVERGE_ON_LEAST_SQUARES = ("newton", "lbfgs", "auto")


@pytest.mark.parametrize(
    "solver", [solver for solver in SOLVERS if solver not in CONVERGE_ON_LEAST_SQUARES]
)
def test_one_callback_task_per_iteration_with_that_iterations_model(solver):
    X, y = load_diabetes(return_X_y=True)
    callback = RecordingCallback()
    model = GDLinearRegression(
        solver=solver, precondition="none", max_iter=40, tol=0.0
    ).set_callbacks(callback)
    with pytest.warns(Warning):  # tol=0 cannot be met: max_iter is reached
        model.fit(X, y)
    assert len(callback.ended) == model.n_iter_ == 40
    for iteration, snapshot in enumerate(callback.ended):
        # It predicts with its coefficients, whose objective is the iteration's.
        np.testing.assert_allclose(snapshot.predict(X), X @ snapshot.coef_ + snapshot.intercept_,
                                   rtol=1e-12)
        objective = least_squares_objective(X, y, snapshot.coef_, snapshot.intercept_)
        np.testing.assert_allclose(objective, model.loss_curve_[iteration], rtol=1e-10)
    np.testing.assert_allclose(callback.ended[-1].coef_, model.coef_)


@pytest.mark.parametrize("solver", CONVERGE_ON_LEAST_SQUARES)
def test_one_callback_task_per_iteration_of_a_logistic_fit(solver):
    X, y = load_breast_cancer(return_X_y=True)
    callback = RecordingCallback()
    model = GDLogisticRegression(solver=solver, max_iter=4, tol=0.0).set_callbacks(callback)
    with pytest.warns(Warning):  # tol=0 cannot be met in 4 iterations
        model.fit(X, y)
    assert len(callback.ended) == model.n_iter_[0] == 4
    for iteration, snapshot in enumerate(callback.ended):
        objective = log_loss_objective(X, y, snapshot.coef_, snapshot.intercept_)
        np.testing.assert_allclose(objective, model.loss_curve_[iteration], rtol=1e-10)
    np.testing.assert_allclose(callback.ended[-1].coef_, model.coef_)


def test_progress_bar_runs_on_a_long_fit(capsys):
    progress = pytest.importorskip("sklearn.callback").ProgressBar
    pytest.importorskip("rich")
    X, y = load_breast_cancer(return_X_y=True)
    model = GDLogisticRegression(solver="bb").set_callbacks(progress()).fit(X, y)
    assert model.n_iter_[0] > 50


def test_verbose_prints_iterations_and_outcome(capsys):
    X, y = load_diabetes(return_X_y=True)
    # Diagonal scaling: in diabetes's raw coordinates (std 0.05) plain gd
    # is far from a certified gap of 1e-3 after 5000 iterations.
    GDLinearRegression(
        solver="gd", precondition="diagonal", verbose=1, max_iter=5000, tol=1e-6
    ).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("[GDLinearRegression/gd] iter      1  objective")
    assert any("iter    100" in line for line in lines)
    assert lines[-1].startswith("[GDLinearRegression/gd] converged after")


def test_scoring_monitor_scores_every_iteration():
    pytest.importorskip("pandas")
    from sklearn.callback import ScoringMonitor

    X, y = load_breast_cancer(return_X_y=True)
    monitor = ScoringMonitor(scoring="accuracy")
    # BB: 30 iterations do not reach the precision limit (Newton would).
    model = GDLogisticRegression(solver="bb", max_iter=30, tol=0.0).set_callbacks(monitor)
    with pytest.warns(Warning):  # tol=0 cannot be met: max_iter is reached
        model.fit(X, y)
    table = monitor.get_logs().data_as_pandas
    per_iteration = table[table["task_name"] == "iteration"]
    assert len(per_iteration) == model.n_iter_[0] == 30
    assert per_iteration["accuracy"].iloc[-1] == pytest.approx(model.score(X, y))
