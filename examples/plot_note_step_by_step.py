"""
==============================================
The gradients, step by step, on a tiny table
==============================================

``gdestimators`` computes its gradients with the textbook formulas of linear
and logistic regression written with one **column per sample** (the
user guide's page on objectives and gradients states them all):

.. math::

    h = w^\\top X + b, \\qquad
    \\nabla_w J = \\frac{1}{m} X (h - y)^\\top, \\qquad
    \\nabla_b J = \\frac{1}{m} \\sum_{i=1}^m (h_i - y_i),

and the same with :math:`a = \\sigma(w^\\top X + b)` in place of :math:`h` for
logistic regression. This example writes those formulas by hand in NumPy on a
table of six samples and two features, then checks them three ways:

1. against **central finite differences** of the cost :math:`J`;
2. against the **estimators**: plain gradient descent, written by hand with
   a fixed learning rate, lands on the same coefficients as
   ``GDLinearRegression(solver="gd", precondition="none", learning_rate=lr)``
   (and ``GDLogisticRegression``) after the same number of iterations, and its
   cost matches the estimator's ``loss_curve_`` iteration by iteration;
3. against an **independent optimum**: the closed-form least-squares solution
   and scikit-learn's L-BFGS :class:`~sklearn.linear_model.LogisticRegression`.

The hand-written costs are also checked against the package's reference
objectives (:mod:`gdestimators._reference`, plain NumPy in scikit-learn's
row-per-sample layout).

The figure ``plot_note_step_by_step.png`` shows the hand-written cost per
iteration next to the estimator's ``loss_curve_``, for both models.

Run as ``python plot_note_step_by_step.py [--out DIR]``: the figure goes to
``DIR``, else to ``$GDESTIMATORS_EXAMPLES_OUT``, else next to this script.
``GDESTIMATORS_SMOKE=1`` runs fewer iterations (the checks of steps 1 and 2
are unchanged, the optimum of step 3 is then only approached).
"""

# %%
# The data, one column per sample
# -------------------------------
# The formulas store the training set as :math:`X \in \mathbb{R}^{n \times m}`
# (one column per sample) and :math:`y \in \mathbb{R}^{1 \times m}`;
# scikit-learn wants one *row* per sample, so the estimators get ``X.T``.
import argparse
import os
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from gdestimators import GDLinearRegression, GDLogisticRegression
from gdestimators._reference import least_squares_objective, log_loss_objective


def figure_folder():
    """``--out DIR``, else ``$GDESTIMATORS_EXAMPLES_OUT``, else this script's folder."""
    parser = argparse.ArgumentParser(description="The gradients, step by step.")
    parser.add_argument("--out", type=Path, help="folder for the figure")
    folder = parser.parse_known_args()[0].out or os.environ.get("GDESTIMATORS_EXAMPLES_OUT")
    if not folder:  # a notebook has no __file__; its folder is the current one
        folder = Path(__file__).resolve().parent if "__file__" in globals() else Path.cwd()
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


SMOKE = os.environ.get("GDESTIMATORS_SMOKE") == "1"
OUT = figure_folder()

X = np.array([[0.5, 1.0, 1.5, 2.0, 2.5, 3.0],   # feature 1
              [1.0, 0.2, 0.8, 1.6, 0.4, 1.2]])  # feature 2
y = np.array([[1.9, 2.1, 3.4, 4.9, 4.2, 5.8]])  # a real-valued target
y_class = np.array([[0, 1, 0, 1, 1, 0]])        # a 0/1 target (not separable)
n, m = X.shape
print(f"X: {n} features x {m} samples (one column per sample)")


# %%
# Linear regression: cost and gradients, letter for letter
# --------------------------------------------------------
def linear_cost(w, b):
    """J = 1/(2m) ||h - y||^2 with h = w^T X + b."""
    h = w.T @ X + b
    return float(np.sum((h - y) ** 2) / (2 * m))


def linear_gradients(w, b):
    """(1/m) X (h - y)^T and (1/m) sum(h - y)."""
    h = w.T @ X + b
    grad_w = (1 / m) * X @ (h - y).T   # shape (n, 1), like w
    grad_b = (1 / m) * np.sum(h - y)
    return grad_w, float(grad_b)


# %%
# Logistic regression: the same shapes with a = sigma(z)
# ------------------------------------------------------
def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def logistic_cost(w, b):
    """J = -(1/m) sum(y log a + (1 - y) log(1 - a))."""
    a = sigmoid(w.T @ X + b)
    return float(-np.sum(y_class * np.log(a) + (1 - y_class) * np.log(1 - a)) / m)


def logistic_gradients(w, b):
    """(1/m) X (a - y)^T and (1/m) sum(a - y)."""
    a = sigmoid(w.T @ X + b)
    grad_w = (1 / m) * X @ (a - y_class).T
    grad_b = (1 / m) * np.sum(a - y_class)
    return grad_w, float(grad_b)


# %%
# Check 1: central finite differences
# -----------------------------------
# :math:`\partial J / \partial w_j \approx (J(w + \varepsilon e_j) -
# J(w - \varepsilon e_j)) / 2\varepsilon`, with an error of order
# :math:`\varepsilon^2`; we evaluate at an arbitrary point, not at the optimum
# (where every gradient is zero and the check would prove nothing).
def finite_differences(cost, w, b, eps=1e-6):
    grad_w = np.zeros_like(w)
    for j in range(w.shape[0]):
        step = np.zeros_like(w)
        step[j] = eps
        grad_w[j] = (cost(w + step, b) - cost(w - step, b)) / (2 * eps)
    grad_b = (cost(w, b + eps) - cost(w, b - eps)) / (2 * eps)
    return grad_w, grad_b


w_test, b_test = np.array([[0.7], [-0.4]]), 0.3
for name, cost, gradients in [
    ("linear", linear_cost, linear_gradients),
    ("logistic", logistic_cost, logistic_gradients),
]:
    gw, gb = gradients(w_test, b_test)
    fw, fb = finite_differences(cost, w_test, b_test)
    error = max(np.max(np.abs(gw - fw)), abs(gb - fb))
    print(f"{name:8s} gradient at w={w_test.ravel()}, b={b_test}: "
          f"grad_w={gw.ravel()}, grad_b={gb:.6f}")
    print(f"{'':8s} largest difference from central finite differences: {error:.1e}")
    assert error < 1e-8, error

# The same costs from the package's reference objectives, which take
# scikit-learn's layout (one row per sample: X.T) and no penalty.
reference_costs = {
    "linear": least_squares_objective(X.T, y.ravel(), w_test.ravel(), b_test),
    "logistic": log_loss_objective(X.T, y_class.ravel(), w_test.T, [b_test], C=np.inf),
}
for name, cost in [("linear", linear_cost), ("logistic", logistic_cost)]:
    print(f"{name:8s} J = {cost(w_test, b_test):.12f} by hand, "
          f"{reference_costs[name]:.12f} from gdestimators._reference")
    assert np.isclose(cost(w_test, b_test), reference_costs[name], rtol=1e-12)


# %%
# Check 2: gradient descent by hand vs the estimator
# --------------------------------------------------
# Gradient descent repeats :math:`w \leftarrow w - \eta \nabla_w J`,
# :math:`b \leftarrow b - \eta \nabla_b J` with a fixed learning rate
# :math:`\eta`. Two details make the hand-written loop and the estimator take
# *identical* steps:
#
# - the estimators start from :math:`w = 0` and the best intercept for
#   :math:`w = 0`: the mean of :math:`y` for least squares, the log-odds of
#   the positive class for logistic regression. We start there too;
# - ``precondition="none"`` keeps the original coordinates (by default the
#   estimators first rescale and decorrelate the features, which changes the
#   path but not the answer), and ``tol=0`` makes them run all ``max_iter``
#   iterations (they then warn that they stopped before ``tol`` was met; we
#   silence that warning on purpose).
#
# ``loss_curve_`` holds the cost after each iteration, so we record the same.
def gradient_descent_by_hand(gradients, cost, b_start, learning_rate, n_iter):
    w, b = np.zeros((n, 1)), b_start
    costs = []
    for _ in range(n_iter):
        grad_w, grad_b = gradients(w, b)
        w = w - learning_rate * grad_w
        b = b - learning_rate * grad_b
        costs.append(cost(w, b))
    return w, b, np.array(costs)


N_ITER = 200 if SMOKE else 800

p = y_class.mean()
problems = {
    "linear": dict(
        gradients=linear_gradients, cost=linear_cost, b_start=float(y.mean()),
        learning_rate=0.3,
        estimator=GDLinearRegression(
            solver="gd", precondition="none", learning_rate=0.3,
            max_iter=N_ITER, tol=0.0,
        ),
        target=y.ravel(),
    ),
    "logistic": dict(
        gradients=logistic_gradients, cost=logistic_cost,
        b_start=float(np.log(p / (1 - p))), learning_rate=1.0,
        # C=np.inf: no penalty, the cost J exactly.
        estimator=GDLogisticRegression(
            C=np.inf, solver="gd", precondition="none", learning_rate=1.0,
            max_iter=N_ITER, tol=0.0,
        ),
        target=y_class.ravel(),
    ),
}

# The largest stable learning rate of plain GD is 2/L, with L the largest
# eigenvalue of (curvature / m) [X; 1] [X; 1]^T (curvature 1 for squared
# error, 1/4 for the logistic loss); both rates above are below it.
X1 = np.vstack([X, np.ones((1, m))])
top_eigenvalue = np.linalg.eigvalsh(X1 @ X1.T / m)[-1]
print(f"\nlargest stable learning rate 2/L: linear {2 / top_eigenvalue:.3f}, "
      f"logistic {2 / (0.25 * top_eigenvalue):.3f}")

results = {}
for name, problem in problems.items():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator = problem["estimator"].fit(X.T, problem["target"])
    # An int for the regressor, an array of shape (1,) for the classifier
    # (as scikit-learn's LogisticRegression gives it).
    n_iter = int(np.ravel(estimator.n_iter_)[0])
    # ``tol=0`` is raised to a floor of 16 machine epsilons: should the
    # gradient fall below it, the estimator stops early; compare the same
    # number of iterations in any case.
    w, b, costs = gradient_descent_by_hand(
        problem["gradients"], problem["cost"], problem["b_start"],
        problem["learning_rate"], n_iter,
    )
    coef = np.ravel(estimator.coef_)
    intercept = float(np.ravel(estimator.intercept_)[0])
    coef_error = max(np.max(np.abs(coef - w.ravel())), abs(intercept - b))
    curve_error = np.max(np.abs(costs - np.asarray(estimator.loss_curve_)))
    print(f"\n{name}: {n_iter} iterations of GD, learning rate "
          f"{problem['learning_rate']}")
    print(f"  by hand:   w = {w.ravel()}, b = {b:.10f}")
    print(f"  estimator: w = {coef}, b = {intercept:.10f} "
          f"(n_iter_={n_iter})")
    print(f"  largest coefficient difference: {coef_error:.1e}; "
          f"largest cost difference over the iterations: {curve_error:.1e}")
    assert coef_error < 1e-10 and curve_error < 1e-12
    results[name] = dict(w=w, b=b, costs=costs, estimator=estimator, n_iter=n_iter)


# %%
# Check 3: both reach the independent optimum
# -------------------------------------------
# Least squares has a closed form: the solution of the normal equations of
# :math:`[X; 1]^\top` (computed by ``numpy.linalg.lstsq``). Logistic regression
# has none; scikit-learn's L-BFGS solver with a tight tolerance and no penalty
# is the reference.
closed_form = np.linalg.lstsq(X1.T, y.ravel(), rcond=None)[0]
lbfgs = LogisticRegression(C=np.inf, tol=1e-12, max_iter=10_000).fit(
    X.T, y_class.ravel()
)
references = {
    "linear": (closed_form[:n], closed_form[n],
               linear_cost(closed_form[:n, None], closed_form[n]),
               "closed form (lstsq)"),
    "logistic": (lbfgs.coef_.ravel(), lbfgs.intercept_[0],
                 logistic_cost(lbfgs.coef_.T, lbfgs.intercept_[0]),
                 "L-BFGS (LogisticRegression)"),
}
for name, (ref_w, ref_b, ref_cost, ref_name) in references.items():
    est = results[name]["estimator"]
    gap = max(np.max(np.abs(np.ravel(est.coef_) - ref_w)),
              abs(float(np.ravel(est.intercept_)[0]) - ref_b))
    print(f"{name}: {ref_name}: w = {ref_w}, b = {ref_b:.10f}, J* = {ref_cost:.10f}")
    print(f"  estimator after {results[name]['n_iter']} iterations is {gap:.1e} away "
          f"(largest coefficient difference)")
    results[name]["reference"] = (ref_cost, ref_name)
    if not SMOKE:
        assert gap < 1e-6, gap


# %%
# The figure: hand-written cost vs ``loss_curve_``
# ------------------------------------------------
# Top row: the cost :math:`J` itself (the two curves lie on top of each other;
# the estimator's values are drawn as markers every few iterations). Bottom
# row: the distance to the reference optimum :math:`J - J^*` on a log scale,
# where the linear rate of gradient descent shows as a straight line until
# rounding errors (about :math:`10^{-16} J^*`) take over.
fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex="col")
every = max(1, N_ITER // 25)
for column, name in enumerate(["linear", "logistic"]):
    res = results[name]
    iterations = np.arange(1, res["n_iter"] + 1)
    curve = np.asarray(res["estimator"].loss_curve_)
    ref_cost, ref_name = res["reference"]
    top, bottom = axes[0, column], axes[1, column]
    top.plot(iterations, res["costs"], color="C0", lw=2, label="GD by hand (NumPy)")
    top.plot(iterations[::every], curve[::every], "o", color="C1", ms=5,
             mfc="none", label="estimator's loss_curve_")
    top.axhline(ref_cost, color="k", ls="--", lw=1, label=f"J* from {ref_name}")
    top.set_ylabel("cost J (mean over samples)")
    lr = problems[name]["learning_rate"]
    model = "GDLinearRegression" if name == "linear" else "GDLogisticRegression"
    top.set_title(f"{name} regression: GD by hand vs\n"
                  f"{model}(solver='gd', precondition='none', learning_rate={lr})",
                  fontsize=10)
    top.legend()
    floor = 1e-16 * abs(ref_cost)
    bottom.semilogy(iterations, np.maximum(res["costs"] - ref_cost, floor),
                    color="C0", lw=2, label="GD by hand (NumPy)")
    bottom.semilogy(iterations[::every], np.maximum(curve[::every] - ref_cost, floor),
                    "o", color="C1", ms=5, mfc="none", label="estimator's loss_curve_")
    bottom.set_xlabel("iteration")
    bottom.set_ylabel("J - J* (log scale)")
    bottom.set_title(f"distance to the optimum J* ({ref_name});\n"
                     f"values below 1e-16 J* drawn at 1e-16 J*", fontsize=10)
    bottom.legend()
    for ax in (top, bottom):
        ax.grid(True, alpha=0.3)
fig.suptitle(f"Gradient descent on {m} samples x {n} features: "
             "hand-written NumPy and the estimators take the same steps")
fig.tight_layout()
path = OUT / "plot_note_step_by_step.png"
fig.savefig(path, dpi=100)
print(f"\nsaved {path}")
