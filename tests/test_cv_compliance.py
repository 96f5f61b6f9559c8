"""scikit-learn's estimator checks on the cross-validated estimators.

No check is expected to fail. The grids stay at ``C <= 1``: the checks'
sample-weight equivalence compares the refit (a plain ``GDLogisticRegression``
or ``GDLinearRegression``) on weighted and on repeated rows to rtol 1e-7,
which the single estimator itself meets at ``C=1`` but not at ``C >= 100``
on that data (its fits stop at ``tol``, 5e-8 apart in probability); the
same holds for the weakest elastic-net ``alpha`` of an automatic grid on
its 45 x 30 problem. A grid that can choose those would test the single
estimator beyond its tolerance, not the cross-validation. The classifiers
use 3 folds, as scikit-learn's own instance of ``LogisticRegressionCV`` in
these checks: some checks' data hold 3 samples of a class.
"""

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import (
    check_dataframe_column_names_consistency,
    check_param_validation,
    parametrize_with_checks,
)

from gdestimators import GDLinearRegressionCV, GDLogisticRegressionCV

ESTIMATORS = [
    GDLogisticRegressionCV(Cs=[0.1, 1.0], cv=3),
    GDLogisticRegressionCV(Cs=[0.5], l1_ratios=[0.0, 0.5], cv=3,
                           class_weight="balanced", refit=False),
    GDLinearRegressionCV(alphas=5, l1_ratio=0.0),
    GDLinearRegressionCV(alphas=[1.0, 0.1], l1_ratio=[0.5, 1.0]),
    GDLinearRegressionCV(alphas=[0.1, 0.01], l1_ratio=[0.0, 1.0], fit_intercept=False,
                         scoring="r2"),
]


@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_check(estimator, check):
    check(estimator)


@pytest.mark.parametrize("estimator", [ESTIMATORS[0], ESTIMATORS[2]],
                         ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(
    "opt_in_check", [check_param_validation, check_dataframe_column_names_consistency],
    ids=lambda c: c.__name__,
)
@pytest.mark.filterwarnings("ignore", category=ConvergenceWarning)
def test_opt_in_checks(estimator, opt_in_check):
    opt_in_check(type(estimator).__name__, estimator)
