"""
============================================
Quickstart: gradient descent vs scikit-learn
============================================

This example fits the two estimators of ``gdestimators`` on real data bundled
with scikit-learn, next to the scikit-learn estimators that minimise the same
objective:

- :class:`~gdestimators.GDLinearRegression` against
  :class:`~sklearn.linear_model.LinearRegression` on the diabetes data;
- :class:`~gdestimators.GDLogisticRegression` against
  :class:`~sklearn.linear_model.LogisticRegression` on the breast-cancer data.

Both use the **raw** features, without a ``StandardScaler``: the
gradient-descent estimators precondition internally, which changes their path
but not their answer. Each pair is fitted on the same training split, then we
print how closely the coefficients agree and the scores on the held-out split.
"""

# %%
# A helper to compare two fitted linear models
# --------------------------------------------
import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.model_selection import train_test_split

from gdestimators import GDLinearRegression, GDLogisticRegression


def report(name, gd, reference, X_test, y_test):
    """Print the coefficient agreement and the test scores of two models."""
    coef_gd, coef_ref = np.ravel(gd.coef_), np.ravel(reference.coef_)
    difference = np.max(np.abs(coef_gd - coef_ref))
    print(f"{name}")
    print(f"  largest coefficient difference: {difference:.2e} "
          f"({difference / np.max(np.abs(coef_ref)):.1e} of the largest coefficient)")
    print(f"  intercepts: {np.ravel(gd.intercept_)[0]:.6g} (GD) vs "
          f"{np.ravel(reference.intercept_)[0]:.6g} (reference)")
    print(f"  test score: {gd.score(X_test, y_test):.4f} "
          f"(GD, {np.ravel(gd.n_iter_)[0]} iterations) vs "
          f"{reference.score(X_test, y_test):.4f} ({type(reference).__name__})")


# %%
# Least squares: diabetes
# -----------------------
# ``load_diabetes(scaled=False)`` gives the original units (age in years, blood
# pressure in mm Hg, ...). With the default ``alpha=0``,
# :class:`~gdestimators.GDLinearRegression` solves ordinary least squares, the
# problem :class:`~sklearn.linear_model.LinearRegression` solves in closed form.
diabetes = load_diabetes(scaled=False)
X, y, feature_names = diabetes.data, diabetes.target, diabetes.feature_names
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

gd_reg = GDLinearRegression().fit(X_train, y_train)
ols = LinearRegression().fit(X_train, y_train)
report("Diabetes: GDLinearRegression() vs LinearRegression()  (score: R^2)",
       gd_reg, ols, X_test, y_test)

print(f"  {'feature':>8}  {'GD':>10}  {'OLS':>10}")
for feature, gd_coef, ols_coef in zip(feature_names, gd_reg.coef_, ols.coef_, strict=True):
    print(f"  {feature:>8}  {gd_coef:10.4f}  {ols_coef:10.4f}")

# %%
# Logistic regression: breast cancer
# ----------------------------------
# The breast-cancer features range from about 0.001 to 4000, a hard case for
# plain gradient descent. :class:`~gdestimators.GDLogisticRegression` with
# ``C=1.0`` has the same minimiser as
# :class:`~sklearn.linear_model.LogisticRegression` with ``C=1.0``. As the
# reference we use the ``"newton-cholesky"`` solver with a tight tolerance:
# Newton's method does not care about the feature scales, so it reaches the
# optimum on raw features in a few iterations. Gradient descent, with its
# default settings, preconditions the raw features internally and stops as
# soon as the gradient test ``tol`` is met.
X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, stratify=y, random_state=0
)

gd_clf = GDLogisticRegression(C=1.0).fit(X_train, y_train)
logreg = LogisticRegression(C=1.0, solver="newton-cholesky", tol=1e-10).fit(
    X_train, y_train
)
print()
report("Breast cancer: GDLogisticRegression() vs "
       "LogisticRegression(solver='newton-cholesky')  (score: accuracy)",
       gd_clf, logreg, X_test, y_test)
agree = np.mean(gd_clf.predict(X_test) == logreg.predict(X_test))
print(f"  test predictions that agree: {agree:.1%}")
