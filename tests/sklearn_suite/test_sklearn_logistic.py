"""scikit-learn's ``linear_model/tests/test_logistic.py``, on ``GDLogisticRegression``.

The module is scikit-learn's own, imported so that its ``LogisticRegression``
is :class:`adapters.LogisticRegressionAdapter`; its tests are re-exported
here for pytest to collect. See README.md.
"""

from sklearn_suite.adapters import import_with_adapters

_sklearn_tests = import_with_adapters("sklearn.linear_model.tests.test_logistic")
globals().update(
    {name: value for name, value in vars(_sklearn_tests).items() if not name.startswith("__")}
)
