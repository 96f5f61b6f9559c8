"""scikit-learn's ``linear_model/tests/test_base.py``, on ``GDLinearRegression``.

The module is scikit-learn's own, imported so that its ``LinearRegression``
is :class:`adapters.LinearRegressionAdapter`; its tests are re-exported here
for pytest to collect. Only the tests that use ``LinearRegression`` are kept
(conftest.py deselects the others, which test private helpers). See README.md.
"""

from sklearn_suite.adapters import import_with_adapters

_sklearn_tests = import_with_adapters("sklearn.linear_model.tests.test_base")
globals().update(
    {name: value for name, value in vars(_sklearn_tests).items() if not name.startswith("__")}
)
