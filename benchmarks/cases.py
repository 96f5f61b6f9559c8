"""The estimator configurations ``run.py`` fits on each kind of problem."""

import functools
from collections.abc import Callable
from dataclasses import dataclass

from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    Ridge,
    SGDClassifier,
    SGDRegressor,
)

from gdestimators import GDLinearRegression, GDLogisticRegression

#: Labels of the rows the fit-time ratio columns divide by.
REGRESSION_REFERENCE = "LinearRegression()"
LOGISTIC_REFERENCE = "LogisticRegression()"
LOGISTIC_STRICT = "LogisticRegression(tol=1e-10, max_iter=10000)"


@dataclass
class Case:
    """One estimator configuration.

    Attributes
    ----------
    label : str
        How the estimator is constructed, as code.
    make : callable
        Returns a fresh, unfitted estimator.
    pilot : bool
        Fit a sample of the rows first, and skip the row when that time
        scaled up exceeds the budget (for fits that cannot be interrupted).
    unlimited : bool
        Exempt from the time budget: the references, whose work is bounded
        (a direct solve, or 100 L-BFGS iterations) and which every ratio
        needs.
    """

    label: str
    make: Callable
    pilot: bool = False
    unlimited: bool = False


def call_arguments(params):
    """``params`` as the keyword arguments of a call: ``"a=1, b='x'"``.

    Parameters
    ----------
    params : dict
        Argument names and values.

    Returns
    -------
    arguments : str
    """
    return ", ".join(f"{name}={value!r}" for name, value in params.items())


def case(estimator_class, pilot=False, unlimited=False, **params):
    """A :class:`Case` whose label is the constructor call itself.

    Parameters
    ----------
    estimator_class : type
        The estimator.
    pilot, unlimited : bool, default=False
        As in :class:`Case`.
    **params
        Constructor arguments.

    Returns
    -------
    case : Case
    """
    return Case(
        f"{estimator_class.__name__}({call_arguments(params)})",
        functools.partial(estimator_class, **params),
        pilot,
        unlimited,
    )


def regression_cases():
    """Estimators for a least-squares problem; the reference comes first.

    Returns
    -------
    cases : list of Case
    """
    return [
        case(LinearRegression, unlimited=True),
        case(GDLinearRegression),
        *(case(GDLinearRegression, solver=name) for name in ("gd", "nesterov", "bb")),
        # A negligible penalty: Cholesky on X^T X, the fast exact route.
        case(Ridge, alpha=1e-6),
        case(SGDRegressor, pilot=True, random_state=0),
    ]


def classification_cases():
    """Estimators for a logistic problem (C=1); the references come first.

    Newton-Cholesky is the second-order reference the solvers are compared
    against. Unlike the default reference it stays under the budget: its
    Hessian grows with the square of ``n_features * n_classes``, and no
    ratio column needs its time.

    Returns
    -------
    cases : list of Case
    """
    return [
        case(LogisticRegression, unlimited=True),
        case(LogisticRegression, tol=1e-10, max_iter=10000),
        case(LogisticRegression, solver="newton-cholesky"),
        case(GDLogisticRegression),
        *(case(GDLogisticRegression, solver=name) for name in ("gd", "nesterov", "bb")),
        case(SGDClassifier, pilot=True, loss="log_loss", random_state=0),
    ]
