"""``LogisticRegression`` and ``LinearRegression`` look-alikes backed by our estimators.

Each adapter takes scikit-learn's constructor arguments (so that ``clone``,
``get_params`` and ``set_params`` see scikit-learn's parameter names) and,
for the duration of ``fit`` only, translates them into
:class:`~gdestimators.GDLogisticRegression` /
:class:`~gdestimators.GDLinearRegression` parameters. Everything else
(``predict``, ``coef_``, ``n_iter_``, ``sparsify`` ...) is our estimator's own:
the adapters add no behaviour of their own beyond the translation.

Translation (scikit-learn 1.9 arguments):

========================  ====================================================
``penalty``               ``"l2"``: ``l1_ratio=0``; ``"l1"``: ``l1_ratio=1``;
                          ``"elasticnet"``: ``l1_ratio`` as given; ``None``:
                          ``C=np.inf``; ``"deprecated"`` (the default): use
                          ``C`` and ``l1_ratio``, as scikit-learn does.
``solver``                ``"lbfgs"``, ``"newton-cg"``, ``"newton-cholesky"``,
                          ``"sag"``, ``"saga"``: ``"auto"`` (they all minimise
                          the same objective as ours); our own names pass
                          through; ``"liblinear"`` is refused (it penalises
                          the intercept through ``intercept_scaling`` and
                          fits one-vs-rest: a different model), except in
                          the diagnostic mode ``LIBLINEAR["as_ours"]``.
``dual``                  ``False``: accepted; ``True`` refused (liblinear's
                          dual formulation).
``tol``                   ``min(tol, 1e-8)``: never looser than our default.
                          scikit-learn's ``tol`` bounds a different quantity
                          (L-BFGS: the raw gradient of the mean objective;
                          ``LinearRegression``: the sparse LSQR residual), so
                          its default 1e-4 / 1e-6 passed literally would stop
                          our solver early for no reason; a tighter ``tol``
                          (tests that want a precise optimum) passes through,
                          and our estimators floor it at 16 ulps of the dtype.
``max_iter``              as given (scikit-learn's default 100 included).
``intercept_scaling``,    accepted and ignored: ``intercept_scaling`` only
``random_state``,         matters to liblinear, our solvers are deterministic
``n_jobs``, ``copy_X``    and single-process, and ``X`` is never copied.
``positive``              ``False`` accepted; ``True`` refused (no
                          non-negativity constraint in our solvers).
others                    ``C``, ``l1_ratio``, ``class_weight``,
                          ``fit_intercept``, ``warm_start``, ``verbose``
                          pass through unchanged.
========================  ====================================================

``LinearRegression`` becomes ``GDLinearRegression(alpha=0)``. The adapters'
parameters are exactly scikit-learn's (``get_params()`` gives its keys, so
code that passes them on, such as ``_log_reg_scoring_path(**lr.get_params())``,
still runs); our other parameters (``learning_rate``, ``precondition`` and,
for the regressor, ``solver``, ``max_iter``, ``warm_start``, ``verbose``) take
our defaults.

``FITS`` counts the fits that reached our estimator, so that a runner can
tell the tests that exercised it from those that only used scikit-learn's
own code (``LogisticRegressionCV``, ``_logistic_regression_path`` ...).
"""

import ast
import contextlib
import importlib
import importlib.util

import numpy as np

from gdestimators import GDLinearRegression, GDLogisticRegression

#: Our default ``tol``: the adapters never pass a looser one.
OUR_TOL = 1e-8

#: scikit-learn solvers that minimise the same objective as ours.
SAME_OBJECTIVE_SOLVERS = {"lbfgs", "newton-cg", "newton-cholesky", "sag", "saga"}
OUR_SOLVERS = {"auto", "gd", "nesterov", "bb"}

#: Our parameters that scikit-learn's estimators do not have, at our defaults.
OUR_DEFAULTS = {"learning_rate": "auto", "precondition": "auto"}

#: Diagnostic mode (``--sklearn-suite-liblinear-as-ours``): ``solver="liblinear"``
#: and ``dual=True`` run our solver instead of being refused, so that the
#: tests that loop over every solver run their other solvers on ours too.
LIBLINEAR = {"as_ours": False}

#: Fits that reached one of our estimators (read and reset by the runner).
FITS = {"count": 0}


class UnsupportedBySklearnAdapter(ValueError):
    """A scikit-learn argument value with no counterpart in our estimators."""


def _tol(tol):
    return min(float(tol), OUR_TOL)


class _Translated:
    """Set our parameters on the estimator for one call, then restore its own."""

    def _translated_call(self, method, ours, *args, **kwargs):
        saved = {name: self.__dict__[name] for name in ours if name in self.__dict__}
        try:
            self.__dict__.update(ours)
            FITS["count"] += 1
            return method(*args, **kwargs)
        finally:
            for name in ours:
                if name in saved:
                    self.__dict__[name] = saved[name]
                else:
                    self.__dict__.pop(name, None)


class LogisticRegressionAdapter(_Translated, GDLogisticRegression):
    """``sklearn.linear_model.LogisticRegression``'s signature on ``GDLogisticRegression``."""

    def __init__(
        self,
        penalty="deprecated",
        *,
        C=1.0,
        l1_ratio=0.0,
        dual=False,
        tol=1e-4,
        fit_intercept=True,
        intercept_scaling=1,
        class_weight=None,
        random_state=None,
        solver="lbfgs",
        max_iter=100,
        verbose=0,
        warm_start=False,
        n_jobs=None,
    ):
        self.penalty = penalty
        self.C = C
        self.l1_ratio = l1_ratio
        self.dual = dual
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.intercept_scaling = intercept_scaling
        self.class_weight = class_weight
        self.random_state = random_state
        self.solver = solver
        self.max_iter = max_iter
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs

    def _our_parameters(self):
        """Our values of ``C``, ``l1_ratio``, ``solver`` and ``tol``."""
        C, l1_ratio = self.C, self.l1_ratio
        penalty = self.penalty
        if penalty is None:
            C = np.inf
        elif penalty == "l1":
            l1_ratio = 1.0
        elif penalty == "l2":
            l1_ratio = 0.0
        elif penalty not in ("elasticnet", "deprecated"):
            raise UnsupportedBySklearnAdapter(f"penalty={penalty!r} is not a known penalty.")
        if l1_ratio is None:
            # scikit-learn 1.8 deprecated l1_ratio=None (meaning l2).
            l1_ratio = 0.0
        if self.dual and not LIBLINEAR["as_ours"]:
            raise UnsupportedBySklearnAdapter(
                "dual=True (liblinear's dual formulation) has no counterpart."
            )
        if self.solver == "liblinear" and not LIBLINEAR["as_ours"]:
            raise UnsupportedBySklearnAdapter(
                "solver='liblinear' has no counterpart: it penalises the "
                "intercept (intercept_scaling) and fits one-vs-rest."
            )
        if self.solver in SAME_OBJECTIVE_SOLVERS or self.solver == "liblinear":
            solver = "auto"
        else:
            solver = self.solver  # ours, or an invalid value for our validation
        return {"C": C, "l1_ratio": l1_ratio, "solver": solver, "tol": _tol(self.tol),
                **OUR_DEFAULTS}

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit ``GDLogisticRegression`` with the translated parameters."""
        fit = super().fit
        return self._translated_call(
            fit, self._our_parameters(), X, y, sample_weight=sample_weight, **fit_params
        )


class LinearRegressionAdapter(_Translated, GDLinearRegression):
    """``sklearn.linear_model.LinearRegression``'s signature on ``GDLinearRegression``."""

    def __init__(self, *, fit_intercept=True, copy_X=True, tol=1e-6, n_jobs=None,
                 positive=False):
        self.fit_intercept = fit_intercept
        self.copy_X = copy_X
        self.tol = tol
        self.n_jobs = n_jobs
        self.positive = positive

    def _our_parameters(self):
        if self.positive:
            raise UnsupportedBySklearnAdapter(
                "positive=True (non-negative least squares) has no counterpart."
            )
        return {"alpha": 0.0, "l1_ratio": 0.0, "tol": _tol(self.tol), "solver": "auto",
                "max_iter": 5000, "warm_start": False, "verbose": 0, **OUR_DEFAULTS}

    def fit(self, X, y, sample_weight=None, **fit_params):
        """Fit ``GDLinearRegression(alpha=0)`` with the translated parameters."""
        fit = super().fit
        return self._translated_call(
            fit, self._our_parameters(), X, y, sample_weight=sample_weight, **fit_params
        )


#: Names patched into scikit-learn's test modules, and their replacements.
REPLACEMENTS = {
    "LogisticRegression": LogisticRegressionAdapter,
    "LinearRegression": LinearRegressionAdapter,
}


def _imported_modules(module_name):
    """The modules a module imports at its top level (from its source)."""
    spec = importlib.util.find_spec(module_name)
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    for node in tree.body:
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            yield node.module


@contextlib.contextmanager
def _replaced(module, replacements):
    saved = {name: getattr(module, name) for name in replacements}
    try:
        for name, value in replacements.items():
            setattr(module, name, value)
        yield
    finally:
        for name, value in saved.items():
            setattr(module, name, value)


def import_with_adapters(module_name):
    """Import a scikit-learn test module that sees the adapters as sklearn's classes.

    The module's dependencies are imported first, as they are, so that only
    the test module's own ``from sklearn.linear_model import
    LogisticRegression`` binds the adapter (module-level names and the
    values in ``parametrize`` lists alike); scikit-learn's own modules keep
    their classes.
    """
    import sklearn.linear_model

    for dependency in _imported_modules(module_name):
        importlib.import_module(dependency)
    with _replaced(sklearn.linear_model, REPLACEMENTS):
        return importlib.import_module(module_name)
