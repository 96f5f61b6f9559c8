"""Linear and logistic regression by gradient descent, as scikit-learn estimators."""

from ._linear import GDLinearRegression
from ._logistic import GDLogisticRegression
from ._solvers import DivergenceError

__version__ = "0.1.0"

__all__ = ["DivergenceError", "GDLinearRegression", "GDLogisticRegression", "__version__"]
