"""Linear and logistic regression by gradient descent, as scikit-learn estimators."""

from ._linear import GDLinearRegression
from ._linear_cv import GDLinearRegressionCV
from ._logistic import GDLogisticRegression
from ._logistic_cv import GDLogisticRegressionCV
from ._solvers import DivergenceError

__version__ = "0.1.0"

__all__ = [
    "DivergenceError",
    "GDLinearRegression",
    "GDLinearRegressionCV",
    "GDLogisticRegression",
    "GDLogisticRegressionCV",
    "__version__",
]
